// Hugging Face GPT-NeoX configuration files (config.json), as GenSLM's architectures/neox ship them
// and as current transformers writes them (`rope_parameters` in place of rotary_pct / rotary_emb_base).
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
    }

    struct RopeParameters: Codable {
        var ropeTheta: Double?
        var partialRotaryFactor: Double?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor" }
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
    }

    public var headDimension: Int { hiddenSize / numAttentionHeads }

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
        let rotary = Int(Double(headDimension) * rotaryPct)
        guard rotaryPct >= 0, rotaryPct <= 1, rotary % 2 == 0 else {
            throw fail("rotary_pct \(rotaryPct) gives \(rotary) rotary dimensions of a head of \(headDimension); it must be an even count (rotate-half pairs the first half with the second)")
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
        return v * h + numHiddenLayers * layer + 2 * h + v * h
    }
}
