// Generation and embeddings with a trained GPT-NeoX (GenSLM's generate and run_inference).
import Foundation
import TensorCore
import TensorIO

/// How tokens are drawn.
public struct SamplingOptions: Sendable {
    public var topK: Int = 50
    public var topP: Double = 0.95
    public var temperature: Double = 1
    public var maxTokens: Int = 64
    public var cutAtStopCodon = false
    public var seed: UInt64 = 0
    /// Keys and values of earlier positions kept between tokens (Hugging Face's `use_cache`).
    public var useCache = true
    public init() {}
}

extension GPTNeoXForCausalLM {
    /// Continues `prompt` (a DNA string, default "ATG" as in GenSLM's library) by sampling codon
    /// tokens with top-k, then top-p, at `temperature`; special tokens are never drawn. The prompt
    /// runs once and each new token attends to the cached keys and values of those before it
    /// (`options.useCache`, the default); without the cache every token re-runs the whole prefix.
    public func generate(prompt: String = "ATG", tokenizer: CodonTokenizer, options: SamplingOptions,
                         generator: inout RandomGenerator) -> String {
        var ids = tokenizer.tokenize(prompt).filter { !tokenizer.suffixIDs.contains($0) }
        let limit = Swift.min(options.maxTokens, configuration.maxPositionEmbeddings)
        let cache = options.useCache ? KeyValueCache(layers: layers.count) : nil
        var pending = ids
        while ids.count < limit {
            let logits: Tensor
            if let cache {
                logits = self.logits(appending: Tensor(pending, shape: [1, pending.count]), cache: cache)
            } else {
                logits = withNoGrad { self(Tensor(ids, shape: [1, ids.count])) }
            }
            let row = logits.sliced(axis: 1, logits.shape[1] - 1).reshaped([configuration.vocabSize]).doubles
            let choice = Self.sample(row, tokenizer: tokenizer, options: options, generator: &generator)
            ids.append(Int64(choice))
            pending = [Int64(choice)]
            if options.cutAtStopCodon, ["TAA", "TAG", "TGA"].contains(tokenizer.tokens[choice]) { break }
        }
        return tokenizer.decode(ids, cutAtStopCodon: options.cutAtStopCodon)
    }

    /// One token drawn from a row of logits: top-k, then the smallest prefix whose probability
    /// reaches top-p, at the temperature; special tokens and ids beyond the vocabulary excluded.
    static func sample(_ row: [Double], tokenizer: CodonTokenizer, options: SamplingOptions, generator: inout RandomGenerator) -> Int {
        var candidates: [(Int, Double)] = row.enumerated().compactMap { index, value in
            let id = Int64(index)
            guard index < tokenizer.vocabularySize, !tokenizer.specialIDs.contains(id) else { return nil }
            return (index, value / Swift.max(options.temperature, 1e-6))
        }
        candidates.sort { $0.1 > $1.1 }
        if options.topK > 0 { candidates = Array(candidates.prefix(options.topK)) }
        let top = candidates[0].1
        var weights = candidates.map { exp($0.1 - top) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        var kept = 0, mass = 0.0
        while kept < weights.count && (kept == 0 || mass < options.topP) { mass += weights[kept]; kept += 1 }
        let draw = generator.uniform([1], dtype: .float64).item() * mass
        var running = 0.0
        for index in 0..<kept {
            running += weights[index]
            if draw < running { return candidates[index].0 }
        }
        return candidates[kept - 1].0
    }

    /// Mean of the final-layer-norm hidden states over real tokens, `[hidden]` (as Double).
    public func embedding(of sequence: String, tokenizer: CodonTokenizer, blockSize: Int) -> [Double] {
        embeddingOutputs(of: sequence, tokenizer: tokenizer, blockSize: blockSize, logits: false).mean
    }

    /// The mean-pooled embedding, the per-token final-layer-norm states `[tokens, hidden]` and,
    /// when asked, the logits `[tokens, vocab]` of the real tokens of one sequence.
    public func embeddingOutputs(of sequence: String, tokenizer: CodonTokenizer, blockSize: Int,
                                 logits wantLogits: Bool) -> (mean: [Double], states: Tensor, logits: Tensor?) {
        let encoded = tokenizer.encode(sequence, blockSize: blockSize)
        let real = Int(encoded.attentionMask.reduce(0, +))
        let ids = Tensor(Array(encoded.inputIDs.prefix(real)), shape: [1, real])
        return withNoGrad {
            let states = hiddenStates(ids, attentionMask: nil)
            let logits = wantLogits ? self.logits(fromHidden: states).reshaped([real, -1]) : nil
            return (states.mean(axes: [0, 1]).doubles, states.reshaped([real, -1]), logits)
        }
    }
}

public enum GenSLMEmbeddingWriter {
    /// Writes `embeddings` `[N, hidden]` float32, `fasta-indices` int64 `[N]` and `na-hashes`
    /// (md5 of each uppercased sequence) `[N]`, GenSLM's names, atomically.
    /// With `perToken` (`[N][tokens, hidden]`), also `token-states` float32 `[N, block, hidden]`
    /// and `token-lengths` int64 `[N]` (rows zero beyond their length); with `logits`
    /// (`[N][tokens, vocab]`), `token-logits` `[N, block, vocab]`. Written one sequence at a time.
    public static func write(_ rows: [[Double]], indices: [Int], sequences: [String], to path: String,
                             perToken: [Tensor]? = nil, logits: [Tensor]? = nil, blockSize: Int = 0) throws {
        let hidden = rows.first?.count ?? 0
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            for (name, tensors) in [("token-states", perToken), ("token-logits", logits)] {
                guard let tensors, let width = tensors.first?.shape.last else { continue }
                let dataset = try root.createDataset(name, dtype: .float32, shape: [tensors.count, blockSize, width],
                                                     options: .compressed(level: 4, chunks: [1, blockSize, width]))
                for (row, tensor) in tensors.enumerated() {
                    var values = tensor.scalars(as: Float.self)
                    values += [Float](repeating: 0, count: (blockSize - tensor.shape[0]) * width)
                    try dataset.write(values, offset: [row, 0, 0], count: [1, blockSize, width])
                }
                if name == "token-states" {
                    try root.write("token-lengths", tensors.map { Int64($0.shape[0]) }, shape: [tensors.count])
                }
            }
            try root.write("embeddings", rows.flatMap { $0.map(Float.init) }, shape: [rows.count, hidden],
                           options: .compressed(level: 4, chunks: [Swift.max(1, Swift.min(256, rows.count)), Swift.max(1, hidden)]))
            try root.write("fasta-indices", indices.map(Int64.init), shape: [indices.count])
            try root.writeStrings("na-hashes", sequences.map { MD5.hex($0.uppercased()) })
            try file.setAttribute("pooling", .string("mean of final-layer-norm hidden states over real tokens"))
        }
    }
}

extension GPTNeoXForCausalLM {
    /// The weights under Hugging Face's names as `model.safetensors` and the configuration as
    /// `config.json` in `folder` (created when missing): what transformers' `from_pretrained` reads.
    public func writeHuggingFace(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Safetensors.write(huggingFaceStateDict(), metadata: ["format": "pt"], to: folder + "/model.safetensors")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(configuration).write(to: URL(fileURLWithPath: folder + "/config.json"), options: .atomic)
    }
}
