// Hugging Face GPT-NeoX configuration files (config.json), as GenSLM's architectures/neox ship them
// and as current transformers writes them (`rope_parameters` in place of rotary_pct / rotary_emb_base),
// plus the position embeddings of EleutherAI's gpt-neox (`pos_emb`: rotary, alibi or T5-style "rpe")
// and Megatron's `rotary_interleaved` (GPT-J's pairing).
import Foundation
import NeuralNetworks
import TensorIO

public struct GPTNeoXConfiguration: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: String
    public var rotaryPct: Double
    public var rotaryEmbBase: Double
    public var maxPositionEmbeddings: Int
    public var layerNormEps: Double
    public var useParallelResidual: Bool
    public var tieWordEmbeddings: Bool
    public var initializerRange: Double
    /// `pos_emb`: "rotary" (default), "alibi" or "rpe" (T5's learned buckets, one table shared by the layers).
    public var positionEmbedding: PositionEmbeddingKind = .rotary
    /// `rotary_interleaved`: GPT-J's neighbour pairs instead of GPT-NeoX's halves.
    public var rotaryInterleaved = false
    /// `rope_scaling` (transformers 4) or the scaling keys of `rope_parameters` (transformers 5).
    public var ropeScaling: RopeScaling?
    /// `rpe_num_buckets` and `rpe_max_distance` (T5's 32 and 128 by default).
    public var relativeBuckets = 32
    public var relativeMaxDistance = 128

    public enum PositionEmbeddingKind: String, Codable, Sendable, CaseIterable {
        case rotary, alibi, rpe
    }

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                hiddenAct: String = "gelu_fast", rotaryPct: Double = 0.25, rotaryEmbBase: Double = 10_000,
                maxPositionEmbeddings: Int = 2048, layerNormEps: Double = 1e-5, useParallelResidual: Bool = true,
                tieWordEmbeddings: Bool = false, initializerRange: Double = 0.02) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.rotaryPct = rotaryPct
        self.rotaryEmbBase = rotaryEmbBase
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.layerNormEps = layerNormEps
        self.useParallelResidual = useParallelResidual
        self.tieWordEmbeddings = tieWordEmbeddings
        self.initializerRange = initializerRange
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case rotaryPct = "rotary_pct", rotaryEmbBase = "rotary_emb_base", maxPositionEmbeddings = "max_position_embeddings"
        case layerNormEps = "layer_norm_eps", useParallelResidual = "use_parallel_residual"
        case tieWordEmbeddings = "tie_word_embeddings", initializerRange = "initializer_range", ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling", positionEmbedding = "pos_emb", rotaryInterleaved = "rotary_interleaved"
        case relativeBuckets = "rpe_num_buckets", relativeMaxDistance = "rpe_max_distance"
    }

    /// The keys of `rope_parameters` and `rope_scaling` (transformers' names).
    struct RopeParameters: Codable {
        var ropeTheta: Double?
        var partialRotaryFactor: Double?
        var ropeType: String?
        var type: String?
        var factor: Double?
        var originalMaxPositionEmbeddings: Int?
        var lowFreqFactor: Double?
        var highFreqFactor: Double?
        var betaFast: Double?
        var betaSlow: Double?
        var attentionFactor: Double?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor", ropeType = "rope_type", type, factor
            case originalMaxPositionEmbeddings = "original_max_position_embeddings", lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", betaFast = "beta_fast", betaSlow = "beta_slow", attentionFactor = "attention_factor"
        }

        /// The scaling these keys ask for; nil for "default". Errors name the key (`section.key`).
        func scaling(section: String) throws -> RopeScaling? {
            func fail(_ key: String, _ message: String) -> DecodingError {
                DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(section).\(key) \(message)"))
            }
            guard let name = ropeType ?? type, name != "default" else { return nil }
            guard let kind = RopeScaling.Kind(rawValue: name) else {
                throw fail("rope_type", "'\(name)' is not supported (supported: default, \(RopeScaling.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let factor else { throw fail("factor", "is required for rope_type '\(name)'") }
            guard factor.isFinite, factor >= 1 else { throw fail("factor", "must be a number ≥ 1, got \(factor)") }
            var scaling = RopeScaling(kind: kind, factor: factor, originalMaxPositions: originalMaxPositionEmbeddings)
            switch kind {
            case .linear, .dynamic: break
            case .yarn:
                if originalMaxPositionEmbeddings != nil {
                    throw fail("original_max_position_embeddings", "is not read by YaRN as transformers 4.46 computes it (it uses max_position_embeddings); remove it")
                }
                scaling.betaFast = betaFast ?? 32
                scaling.betaSlow = betaSlow ?? 1
                scaling.attentionFactor = attentionFactor
            case .llama3:
                guard let original = originalMaxPositionEmbeddings, original > 0 else {
                    throw fail("original_max_position_embeddings", "is required for rope_type 'llama3' (a positive integer)")
                }
                guard let low = lowFreqFactor, let high = highFreqFactor, high > low else {
                    throw fail("low_freq_factor", "and high_freq_factor are required for rope_type 'llama3', with high > low")
                }
                (scaling.originalMaxPositions, scaling.lowFrequencyFactor, scaling.highFrequencyFactor) = (original, low, high)
            }
            return scaling
        }

        init(_ scaling: RopeScaling) {
            ropeType = scaling.kind.rawValue
            factor = scaling.factor
            switch scaling.kind {
            case .linear, .dynamic: break
            case .yarn: (betaFast, betaSlow, attentionFactor) = (scaling.betaFast, scaling.betaSlow, scaling.attentionFactor)
            case .llama3:
                (originalMaxPositionEmbeddings, lowFreqFactor, highFreqFactor) =
                    (scaling.originalMaxPositions, scaling.lowFrequencyFactor, scaling.highFrequencyFactor)
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        let rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        rotaryPct = try c.decodeIfPresent(Double.self, forKey: .rotaryPct) ?? rope?.partialRotaryFactor ?? 0.25
        rotaryEmbBase = try c.decodeIfPresent(Double.self, forKey: .rotaryEmbBase) ?? rope?.ropeTheta ?? 10_000
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-5
        useParallelResidual = try c.decodeIfPresent(Bool.self, forKey: .useParallelResidual) ?? true
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        initializerRange = try c.decodeIfPresent(Double.self, forKey: .initializerRange) ?? 0.02
        if let scaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling) {
            ropeScaling = try scaling.scaling(section: "rope_scaling")
        } else {
            ropeScaling = try rope?.scaling(section: "rope_parameters")
        }
        let kind = try c.decodeIfPresent(String.self, forKey: .positionEmbedding) ?? "rotary"
        guard let position = PositionEmbeddingKind(rawValue: kind) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "pos_emb '\(kind)' is not one of rotary, alibi, rpe"))
        }
        positionEmbedding = position
        rotaryInterleaved = try c.decodeIfPresent(Bool.self, forKey: .rotaryInterleaved) ?? false
        relativeBuckets = try c.decodeIfPresent(Int.self, forKey: .relativeBuckets) ?? 32
        relativeMaxDistance = try c.decodeIfPresent(Int.self, forKey: .relativeMaxDistance) ?? 128
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(rotaryPct, forKey: .rotaryPct)
        try c.encode(rotaryEmbBase, forKey: .rotaryEmbBase)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(useParallelResidual, forKey: .useParallelResidual)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(initializerRange, forKey: .initializerRange)
        // Non-default position settings only, so a plain GPT-NeoX's config.json is what transformers writes.
        if let ropeScaling { try c.encode(RopeParameters(ropeScaling), forKey: .ropeScaling) }
        if positionEmbedding != .rotary { try c.encode(positionEmbedding.rawValue, forKey: .positionEmbedding) }
        if rotaryInterleaved { try c.encode(true, forKey: .rotaryInterleaved) }
        if positionEmbedding == .rpe {
            try c.encode(relativeBuckets, forKey: .relativeBuckets)
            try c.encode(relativeMaxDistance, forKey: .relativeMaxDistance)
        }
    }

    public var headDimension: Int { hiddenSize / numAttentionHeads }

    /// The rotary embedding of every layer (nil unless `pos_emb` is rotary).
    public var rotaryEmbedding: RotaryEmbedding? {
        guard positionEmbedding == .rotary else { return nil }
        return RotaryEmbedding(headDimension: headDimension, fraction: rotaryPct, base: rotaryEmbBase,
                               style: rotaryInterleaved ? .interleaved : .rotateHalf, scaling: ropeScaling, maxPositions: maxPositionEmbeddings)
    }

    /// The activation named by `hidden_act` (Hugging Face's ACT2FN names).
    public var activation: Activation? { Activation(rawValue: hiddenAct) }

    /// Checks what the model needs; errors name the file and the key.
    public func validate(file: String) throws {
        func fail(_ message: String) -> FileError { FileError(file: file, message: message) }
        guard vocabSize > 0, hiddenSize > 0, numHiddenLayers > 0, numAttentionHeads > 0, intermediateSize > 0 else {
            throw fail("vocab_size, hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads) "
                       + "(\(hiddenSize) / \(numAttentionHeads) = \(Double(hiddenSize) / Double(numAttentionHeads))); GPT-NeoX needs whole heads")
        }
        guard activation != nil else {
            throw fail("hidden_act '\(hiddenAct)' is not one of \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard rotaryPct >= 0, rotaryPct <= 1 else { throw fail("rotary_pct \(rotaryPct) must lie in [0, 1]") }
        let rotary = Int(Double(headDimension) * rotaryPct)
        guard rotary % 2 == 0 else {
            throw fail("rotary_pct \(rotaryPct) gives \(rotary) rotary dimensions of a head of \(headDimension); it must be an even count (rotate-half pairs the first half with the second)")
        }
        if positionEmbedding != .rotary, ropeScaling != nil || rotaryInterleaved {
            throw fail("rope_scaling and rotary_interleaved need pos_emb rotary (pos_emb is \(positionEmbedding.rawValue))")
        }
        if ropeScaling?.kind == .dynamic, rotary <= 2 {
            throw fail("rope_scaling dynamic needs more than 2 rotary dimensions (rotary_pct \(rotaryPct) gives \(rotary))")
        }
        if positionEmbedding == .rpe, relativeBuckets < 2 || relativeMaxDistance < relativeBuckets / 2 + 1 {
            throw fail("rpe_num_buckets \(relativeBuckets) and rpe_max_distance \(relativeMaxDistance): need at least 2 buckets and a distance beyond the exact half (T5's buckets)")
        }
        guard !tieWordEmbeddings else { throw fail("tie_word_embeddings true is not supported (GPT-NeoX unties embed_out)") }
    }

    /// Reads and validates a config.json.
    public static func load(from path: String) throws -> GPTNeoXConfiguration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FileError(file: path, message: "cannot read the file (\(error.localizedDescription))")
        }
        let configuration: GPTNeoXConfiguration
        do { configuration = try JSONDecoder().decode(GPTNeoXConfiguration.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw FileError(file: path, message: "missing key '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw FileError(file: path, message: "key '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw FileError(file: path, message: context.debugDescription)
        } catch {
            throw FileError(file: path, message: "not a GPT-NeoX config.json (\(error))")
        }
        try configuration.validate(file: path)
        return configuration
    }

    /// Parameters of the model this configuration builds.
    public var parameterCount: Int {
        let h = hiddenSize, f = intermediateSize, v = vocabSize
        let layer = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * f + f) + (f * h + h)
        let relativeTable = positionEmbedding == .rpe ? relativeBuckets * numAttentionHeads : 0
        return v * h + numHiddenLayers * layer + 2 * h + v * h + relativeTable
    }
}
