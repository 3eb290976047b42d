import Foundation
import TensorIO
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore

@Suite("GPT-NeoX under sequence parallelism")
struct SequenceParallelGPTNeoXTests {
    /// P ranks split each sequence (S = 11, so P = 2 and 4 pad); the loss equals one process's and the
    /// gradients, summed over the group as DataParallel does, equal one process's (float64). Ulysses
    /// gives each rank whole sequences of some heads (4 heads over 3 ranks: 2, 1, 1): ALiBi slopes and
    /// relative-bias rows must follow their heads, and the shared rpe table's gradient sums to one process's.
    @Test("loss and gradients equal one process on whole sequences, S % P ≠ 0 included, for every position embedding",
          arguments: [1, 2, 3, 4], ["rotary", "alibi", "rpe", "gptj-yarn"])
    func matchesOneProcess(ranks: Int, positions: String) throws {
        let configuration = PositionEmbeddingChoiceTests.configuration(positions)
        var generator = RandomGenerator(seed: 3)
        let (b, s) = (2, 11)
        let ids = Tensor(generator.bits(b * s).map { Int64($0 % 13) }, shape: [b, s])
        // The second row ends in three pad positions.
        let mask = Tensor((0..<(b * s)).map { Int64($0 >= b * s - 3 ? 0 : 1) }, shape: [b, s])
        let single = GPTNeoXForCausalLM(configuration, dtype: .float64, seed: 5)
        let loss = single.loss(ids, attentionMask: mask)
        try loss.backward()
        let expected = single.namedParameters().map { ($0.0, $0.1.grad!.doubles) }
        let failures = RankMessages()
        try InProcessWorld.run(size: ranks) { world in
            let groups = try ProcessGroups(world: world, sequenceParallelSize: ranks)
            let model = GPTNeoXForCausalLM(configuration, dtype: .float64, seed: 5)
            try model.enableSequenceParallelism(groups.sequenceParallel)
            let ours = try model.sequenceParallelLoss(ids, attentionMask: mask)
            if Swift.abs(ours.item() - loss.item()) > 1e-12 * Swift.abs(loss.item()) {
                failures.add(["\(positions) rank \(world.rank): loss \(ours.item()) vs \(loss.item())"])
            }
            try ours.backward()
            try DataParallel.allReduceGradients(model.namedParameters(), groups: groups)
            for ((path, parameter), (_, reference)) in zip(model.namedParameters(), expected) {
                let check = closeness(parameter.grad?.doubles ?? [], reference, Tolerance(rtol: 1e-10, atol: 1e-12))
                if !check.passed { failures.add(["\(positions) rank \(world.rank): \(path): \(check)"]) }
            }
        }
        let found = failures.all
        #expect(found.count == 0, "\(found.count) mismatches, first: \(found.prefix(3))")
    }
}

@Suite("GenSLM embedding outputs")
struct EmbeddingOutputTests {
    @Test("per-token states average to the embedding, and the logits are the model's for the real tokens")
    func perToken() throws {
        let configuration = GPTNeoXConfiguration(vocabSize: 69, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 4,
                                                 intermediateSize: 32, hiddenAct: "gelu_fast", rotaryPct: 0.5)
        let model = GPTNeoXForCausalLM(configuration, seed: 2)
        let tokenizer = CodonTokenizer.standard
        let outputs = model.embeddingOutputs(of: "ATGGCTAAACCGTTTGGCTAA", tokenizer: tokenizer, blockSize: 16, logits: true)
        #expect(outputs.states.shape == [7, 16] && outputs.logits?.shape == [7, 69])
        let mean = outputs.states.mean(axes: [0]).doubles
        #expect(closeness(mean, outputs.mean, Tolerance(rtol: 1e-5, atol: 1e-6)).passed)
        let encoded = tokenizer.encode("ATGGCTAAACCGTTTGGCTAA", blockSize: 16)
        let ids = Tensor(Array(encoded.inputIDs.prefix(7)), shape: [1, 7])
        let direct = withNoGrad { model(ids) }.reshaped([7, 69])
        #expect(closeness(outputs.logits!.doubles, direct.doubles, Tolerance(rtol: 1e-5, atol: 1e-6)).passed)
        #expect(model.embedding(of: "ATGGCTAAACCGTTTGGCTAA", tokenizer: tokenizer, blockSize: 16) == outputs.mean)
    }
}

@Suite("Synthetic genes")
struct GeneSynthesizerTests {
    @Test("sampled genes are ATG … stop with no inner stop, lengths from the fitted genes, the same for a seed")
    func sampling() throws {
        let genes = ["ATGAAACCCGGGTTTTAA", "ATGGCTGCTGCTAAATAG", "ATGCCCAAAGGGTTTCCCAAATGA", "ATGTGA", "ATGNNNTAA"]
        let model = try CodonUsageModel(fitting: genes)
        #expect(model.lengths.sorted() == [4, 4, 6])  // the N gene and the gene without a body are skipped
        let sampled = model.sample(count: 50, seed: 3)
        #expect(sampled == model.sample(count: 50, seed: 3) && sampled != model.sample(count: 50, seed: 4))
        for gene in sampled {
            let codons = stride(from: 0, to: gene.count, by: 3).map { String(Array(gene)[$0..<($0 + 3)]) }
            #expect(codons.first == "ATG" && CodonUsageModel.stopCodons.contains(codons.last!))
            #expect(codons.dropFirst().dropLast().allSatisfy { !CodonUsageModel.stopCodons.contains($0) })
            #expect(model.lengths.contains(codons.count - 2))
        }
        #expect(throws: FileError.self) { _ = try CodonUsageModel(fitting: ["ACGT"]) }
    }
}
