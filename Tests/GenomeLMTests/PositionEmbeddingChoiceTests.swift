// Position embeddings chosen in GPT-NeoX's config.json: rotary with transformers' scaling schemes
// (against transformers itself), GPT-J's interleaved pairs, ALiBi and T5-style buckets, each with
// cached generation (sequence parallelism: SequenceParallelGPTNeoXTests).
import Foundation
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import ParallelRuntime
@testable import TensorCore
import TensorIO

@Suite("Rotary embeddings against transformers")
struct RotaryParityTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity").path

    struct Case: Decodable {
        var name: String
        var offset: Int
        var length: Int
    }

    /// Parity/make_rope_parity.py ran transformers 4.46.3's GPTNeoXRotaryEmbedding (linear, dynamic,
    /// yarn, llama3 rope_scaling) and GPT-J's rotate_every_two, in float64, on random queries.
    @Test("each scheme's frequencies, attention factor and rotated queries equal transformers' (float64 ≤ 1e-12, float32 ≤ 1e-6)")
    func schemes() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/rope_cases.json"))
        let root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let cases = try JSONDecoder().decode([Case].self, from: try JSONSerialization.data(withJSONObject: root["cases"]!))
        let configurations = (root["cases"] as! [[String: Any]]).map { $0["config"]! }
        let tensors = Dictionary(uniqueKeysWithValues: try Safetensors.read(from: Self.folder + "/rope_parity.safetensors").tensors)
        #expect(cases.count == 11)
        for (entry, keys) in zip(cases, configurations) {
            let configuration = try JSONDecoder().decode(GPTNeoXConfiguration.self, from: try JSONSerialization.data(withJSONObject: keys))
            try configuration.validate(file: "rope_cases.json")
            let rotary = try #require(configuration.rotaryEmbedding)
            let frequencies = rotary.inverseFrequencies(sequenceLength: entry.offset + entry.length)
            let theirs = tensors["\(entry.name).inv_freq"]!.doubles
            let frequencyError = zip(frequencies, theirs).map { abs($0 - $1) / abs($1) }.max()!
            #expect(frequencies.count == theirs.count && frequencyError <= 1e-12, "\(entry.name): inv_freq relative error \(frequencyError)")
            #expect(abs(rotary.attentionFactor - tensors["\(entry.name).attention_scaling"]!.doubles[0]) <= 1e-12, "\(entry.name): attention factor")
            let q = tensors["\(entry.name).q"]!, expected = tensors["\(entry.name).q_rotated"]!.doubles
            let scale = expected.map(abs).max()!
            for dtype in [DType.float64, .float32] {
                let rotated = rotary.apply(q.cast(to: dtype), offset: entry.offset).doubles
                let worst = zip(rotated, expected).map { abs($0 - $1) }.max()! / scale
                #expect(worst <= (dtype == .float64 ? 1e-12 : 1e-6), "\(entry.name) \(dtype): rotated queries differ by \(worst) of the largest")
            }
        }
    }

    @Test("interleaved (GPT-J) pairs are neighbours, scaled by YaRN's attention factor; the other features pass through")
    func interleaved() {
        var generator = RandomGenerator(seed: 5)
        let rope = RotaryEmbedding(headDimension: 8, fraction: 0.5, style: .interleaved, scaling: RopeScaling(kind: .yarn, factor: 4),
                                   maxPositions: 16)
        let x = generator.normal([1, 1, 1, 8], dtype: .float64)
        let values = x.doubles, out = rope.apply(x, offset: 3).doubles
        let angles = rope.inverseFrequencies(sequenceLength: 4).map { 3 * $0 }, factor = rope.attentionFactor
        #expect(factor > 1)
        for pair in 0..<2 {
            let (a, b, angle) = (values[2 * pair], values[2 * pair + 1], angles[pair])
            #expect(abs(out[2 * pair] - factor * (a * cos(angle) - b * sin(angle))) < 1e-12)
            #expect(abs(out[2 * pair + 1] - factor * (b * cos(angle) + a * sin(angle))) < 1e-12)
        }
        #expect(Array(out[4..<8]) == Array(values[4..<8]))
    }

    @Test("config.json: scaling and position keys round-trip; unsupported or incomplete ones are errors naming the key")
    func configurationErrors() throws {
        func load(_ extra: String) throws -> GPTNeoXConfiguration {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("rope-\(UUID().uuidString).json").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let json = #"{"vocab_size": 8, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8"#
                + extra + "}"
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            return try GPTNeoXConfiguration.load(from: path)
        }
        func message(_ extra: String) -> String {
            do { _ = try load(extra); return "" } catch { return "\(error)" }
        }
        let llama = try load(#", "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 1024}"#)
        #expect(llama.ropeScaling?.kind == .llama3 && llama.ropeScaling?.originalMaxPositions == 1024)
        let reloaded = try JSONDecoder().decode(GPTNeoXConfiguration.self, from: try JSONEncoder().encode(llama))
        #expect(reloaded == llama)
        // transformers 5 keeps the scheme in rope_parameters.
        let v5 = try load(#", "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000}"#)
        #expect(v5.ropeScaling == RopeScaling(kind: .linear, factor: 2) && v5.rotaryEmbBase == 500_000)
        let rpe = try load(#", "pos_emb": "rpe", "rpe_num_buckets": 16, "rpe_max_distance": 64"#)
        #expect(try JSONDecoder().decode(GPTNeoXConfiguration.self, from: try JSONEncoder().encode(rpe)) == rpe)
        #expect(rpe.parameterCount == GPTNeoXForCausalLM(rpe).namedParameters().reduce(0) { $0 + $1.1.value.count })
        #expect(message(#", "rope_scaling": {"rope_type": "longrope", "factor": 2}"#).contains("rope_scaling.rope_type 'longrope' is not supported"))
        #expect(message(#", "rope_scaling": {"type": "linear"}"#).contains("rope_scaling.factor is required"))
        #expect(message(#", "rope_scaling": {"rope_type": "llama3", "factor": 8}"#).contains("original_max_position_embeddings is required"))
        #expect(message(#", "rope_scaling": {"rope_type": "linear", "factor": 0.5}"#).contains("must be a number ≥ 1"))
        #expect(message(#", "pos_emb": "learned""#).contains("pos_emb 'learned' is not one of rotary, alibi, rpe"))
        #expect(message(#", "pos_emb": "alibi", "rope_scaling": {"rope_type": "linear", "factor": 2}"#).contains("need pos_emb rotary"))
    }
}

@Suite("GPT-NeoX position embeddings")
struct PositionEmbeddingChoiceTests {
    /// A tiny GPT-NeoX with the position embedding `kind`: rotary, alibi, rpe, gptj-yarn or llama3.
    static func configuration(_ kind: String) -> GPTNeoXConfiguration {
        var c = GPTNeoXConfiguration(vocabSize: 13, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 32,
                                     hiddenAct: "gelu_fast", rotaryPct: 0.5, maxPositionEmbeddings: 64)
        switch kind {
        case "alibi": c.positionEmbedding = .alibi
        case "rpe": (c.positionEmbedding, c.relativeBuckets, c.relativeMaxDistance) = (.rpe, 8, 16)
        case "gptj-yarn": (c.rotaryInterleaved, c.ropeScaling) = (true, RopeScaling(kind: .yarn, factor: 4))
        case "llama3":
            var scaling = RopeScaling(kind: .llama3, factor: 4, originalMaxPositions: 16)
            (scaling.lowFrequencyFactor, scaling.highFrequencyFactor) = (1, 4)
            c.ropeScaling = scaling
        default: break
        }
        return c
    }

    @Test("cached generation equals the whole-prefix forward pass; the fused kernels equal the reference path",
          arguments: ["alibi", "rpe", "gptj-yarn", "llama3"])
    func cachedAndReference(kind: String) {
        let configuration = Self.configuration(kind)
        let model = GPTNeoXForCausalLM(configuration, dtype: .float64, seed: 7)
        var generator = RandomGenerator(seed: 11)
        let ids = generator.uniform([1, 40], low: 0, high: 13, dtype: .float64).cast(to: .int64)
        let full = withNoGrad { model(ids) }.doubles
        let cache = KeyValueCache(layers: configuration.numHiddenLayers)
        var cached = model.logits(appending: ids.sliced(axis: 1, 0, 5), cache: cache).doubles
        for position in 5..<40 { cached += model.logits(appending: ids.sliced(axis: 1, position, position + 1), cache: cache).doubles }
        let scale = full.map(abs).max()!
        let worst = zip(cached, full).map { abs($0 - $1) }.max()! / scale
        #expect(worst < 1e-12, "\(kind): cached differs by \(worst)")
        model.setAttentionMethod(.reference)
        let reference = withNoGrad { model(ids) }.doubles
        let referenceWorst = zip(reference, full).map { abs($0 - $1) }.max()! / scale
        #expect(referenceWorst < 1e-12, "\(kind): reference path differs by \(referenceWorst)")
    }

    @Test("the schemes give different models: ALiBi, rpe and scaled rotary change the logits of the same weights")
    func schemesMatter() {
        var generator = RandomGenerator(seed: 2)
        let ids = generator.uniform([1, 30], low: 0, high: 13, dtype: .float64).cast(to: .int64)
        let logits = ["rotary", "alibi", "gptj-yarn", "llama3"].map { kind in
            withNoGrad { GPTNeoXForCausalLM(Self.configuration(kind), dtype: .float64, seed: 7)(ids) }.doubles
        }
        for i in 0..<logits.count { for j in (i + 1)..<logits.count { #expect(logits[i] != logits[j], "schemes \(i) and \(j)") } }
    }
}
