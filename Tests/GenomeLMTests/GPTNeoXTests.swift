import Foundation
import TensorIO
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import TensorCore

@Suite("GPT-NeoX")
struct GPTNeoXTests {
    static let architectures = Fixtures.shared("genslm/architectures/neox")
    static let tiny = GPTNeoXConfiguration(vocabSize: 69, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 4,
                                           intermediateSize: 32, hiddenAct: "gelu_fast", rotaryPct: 0.5)

    @Test("GenSLM's configs load and their parameter counts match their names; unusable ones are refused clearly")
    func configurations() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: GPTNeoXTests.architectures.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count == 9)
        var refused: [String] = []
        for file in files {
            let path = GPTNeoXTests.architectures.appendingPathComponent(file).path
            let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            let hidden = raw["hidden_size"] as! Int, heads = raw["num_attention_heads"] as! Int
            let rotary = hidden % heads == 0 ? Int(Double(hidden / heads) * (raw["rotary_pct"] as! Double)) : 0
            if hidden % heads != 0 || rotary % 2 != 0 {
                // 25B: hidden 8196 over 64 heads; 1.6B and 15B: heads of 181 and 110 give 45 and 27
                // rotary dimensions, which rotate-half cannot pair.
                do {
                    _ = try GPTNeoXConfiguration.load(from: path)
                    Issue.record("\(file) must be refused")
                } catch let error as FileError {
                    let reason = hidden % heads != 0 ? "not divisible" : "\(rotary) rotary dimensions"
                    #expect(error.description.hasPrefix(path) && error.description.contains(reason), "\(error)")
                }
                refused.append(String(file.prefix { $0 != "." }))
                continue
            }
            let c = try GPTNeoXConfiguration.load(from: path)
            #expect(c.vocabSize == 69 && c.rotaryPct == 0.25 && c.hiddenAct == "gelu_fast" && !c.tieWordEmbeddings)
            // The file names are parameter counts, except the 250M files (upstream's own defect).
            let named = Int(file.dropFirst(5).prefix { $0 != "." && $0 != "_" }.filter(\.isNumber))!
            if file.hasPrefix("neox_244") { #expect(c.parameterCount == 253_429_376) } else { #expect(c.parameterCount == named, "\(file)") }
        }
        #expect(refused == ["neox_1,620,997,120", "neox_15,056,728,576", "neox_25,076,188,032"])
        let model = GPTNeoXForCausalLM(try GPTNeoXConfiguration.load(from: GPTNeoXTests.architectures.appendingPathComponent("neox_25,290,752.json").path))
        #expect(model.parameterCount == 25_290_752)
    }

    @Test("the current transformers form with rope_parameters, and bad files, name the file and key")
    func configurationForms() throws {
        let directory = try Fixtures.scratchDirectory("neoxconfig")
        let modern = directory.appendingPathComponent("modern.json").path
        try #"{"model_type": "gpt_neox", "vocab_size": 70, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256, "hidden_act": "gelu", "rope_parameters": {"rope_type": "default", "rope_theta": 500.0, "partial_rotary_factor": 0.5}}"#
            .write(toFile: modern, atomically: true, encoding: .utf8)
        let c = try GPTNeoXConfiguration.load(from: modern)
        #expect(c.rotaryPct == 0.5 && c.rotaryEmbBase == 500 && c.maxPositionEmbeddings == 2048)
        let missing = directory.appendingPathComponent("missing.json").path
        try #"{"vocab_size": 70, "hidden_size": 64}"#.write(toFile: missing, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { _ = try GPTNeoXConfiguration.load(from: missing) }
        let badAct = directory.appendingPathComponent("act.json").path
        try #"{"vocab_size": 70, "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 8, "hidden_act": "swishy"}"#
            .write(toFile: badAct, atomically: true, encoding: .utf8)
        do {
            _ = try GPTNeoXConfiguration.load(from: badAct)
            Issue.record("unknown activation must fail")
        } catch let error as FileError {
            #expect(error.description.contains("swishy") && error.description.hasPrefix(badAct))
        }
    }

    func batch() -> (Tensor, Tensor) {
        var generator = RandomGenerator(seed: 4)
        let ids = generator.uniform([2, 9], low: 5, high: 69, dtype: .float64).cast(to: .int64)
        var values = ids.scalars(as: Int64.self), mask = [Int64](repeating: 1, count: 18)
        for j in 6..<9 { values[9 + j] = 3; mask[9 + j] = 0 }  // the second row ends in padding
        return (Tensor(values, shape: [2, 9]), Tensor(mask, shape: [2, 9]))
    }

    @Test("the fused and reference attention paths give the same logits and gradients (float64)")
    func fusedMatchesReference() throws {
        let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, dtype: .float64, seed: 3)
        let (ids, mask) = batch()
        var results: [[Tensor]] = []
        for method in AttentionMethod.allCases {
            model.setAttentionMethod(method)
            model.zeroGrad()
            let loss = model.loss(ids, attentionMask: mask)
            try loss.backward()
            results.append([model(ids, attentionMask: mask), loss] + model.parameters().map { $0.grad! })
        }
        for (a, b) in zip(results[0], results[1]) {
            #expect(closeness(a, b, Tolerance(rtol: 1e-10, atol: 1e-12)).passed)
        }
    }

    @Test("causal: a token never changes the logits before it; right padding changes nothing real")
    func causalityAndPadding() {
        let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, dtype: .float64, seed: 5)
        let ids = Tensor([Int64](arrayLiteral: 10, 20, 30, 40, 50, 60), shape: [1, 6])
        var changed = ids.scalars(as: Int64.self)
        changed[4] = 7
        let a = model(ids), b = model(Tensor(changed, shape: [1, 6]))
        #expect(closeness(a.sliced(axis: 1, 0, 4).contiguous(), b.sliced(axis: 1, 0, 4).contiguous(), Tolerance(rtol: 0, atol: 0)).passed)
        #expect(!closeness(a.sliced(axis: 1, 4).contiguous(), b.sliced(axis: 1, 4).contiguous()).passed)
        let padded = Tensor([Int64](arrayLiteral: 10, 20, 30, 40, 50, 60, 3, 3), shape: [1, 8])
        let mask = Tensor([Int64](arrayLiteral: 1, 1, 1, 1, 1, 1, 0, 0), shape: [1, 8])
        let c = model(padded, attentionMask: mask).sliced(axis: 1, 0, 6).contiguous()
        #expect(closeness(c, a, Tolerance(rtol: 1e-12, atol: 1e-12)).passed)
    }

    @Test("the loss counts real tokens only unless upstream's padding-included loss is asked for")
    func lossOverRealTokens() {
        let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, dtype: .float64, seed: 6)
        let (ids, mask) = batch()
        let real = model.loss(ids, attentionMask: mask).item()
        let withPadding = model.loss(ids, attentionMask: mask, includePadding: true).item()
        #expect(real != withPadding)
        // By hand: mean over the 8 + 5 real next-token predictions.
        let logProbabilities = model(ids, attentionMask: mask).logSoftmax(axis: -1).doubles
        let values = ids.scalars(as: Int64.self)
        var total = 0.0, count = 0
        for row in 0..<2 {
            for position in 0..<8 where row == 0 || position + 1 < 6 {
                total -= logProbabilities[(row * 9 + position) * 69 + Int(values[row * 9 + position + 1])]
                count += 1
            }
        }
        #expect(count == 13)
        #expect(abs(real - total / Double(count)) < 1e-12)
    }

    @Test("a tiny model learns a repeated codon pattern")
    func learns() throws {
        let model = GPTNeoXForCausalLM(GPTNeoXTests.tiny, seed: 7)
        let optimizer = Adam.adamW(model.namedParameters(), learningRate: 1e-2, weightDecay: 0)
        let pattern: [Int64] = (0..<16).map { [10, 20, 30, 40][$0 % 4] }
        let ids = Tensor(pattern + pattern, shape: [2, 16]), mask = Tensor.ones([2, 16], dtype: .int64)
        var first = 0.0, last = 0.0
        for step in 0..<60 {
            model.zeroGrad()
            let loss = model.loss(ids, attentionMask: mask)
            try loss.backward()
            optimizer.step()
            if step == 0 { first = loss.item() }
            last = loss.item()
        }
        #expect(first > 3 && last < 0.2, "loss \(first) → \(last)")
        #expect(GPTNeoXForCausalLM.huggingFaceName("layers.0.attention.queryKeyValue.weight") == "gpt_neox.layers.0.attention.query_key_value.weight")
        #expect(GPTNeoXForCausalLM.huggingFaceName("layers.1.denseHTo4h.bias") == "gpt_neox.layers.1.mlp.dense_h_to_4h.bias")
        #expect(GPTNeoXForCausalLM.huggingFaceName("embedOut.weight") == "embed_out.weight")
    }
}
