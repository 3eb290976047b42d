// ClimaX's architecture settings under upstream's `net.init_args` names, with the released
// configuration (configs/global_forecast_climax.yaml) and smaller ones.

public struct ClimaXConfiguration: Codable, Equatable, Sendable {
    /// Every variable the model has an embedding for (upstream `default_vars`), long names.
    public var defaultVariables: [String]
    /// `[H, W]` of the grid (`img_size`).
    public var imageSize: [Int]
    public var patchSize: Int
    public var embedDim: Int
    public var depth: Int
    public var decoderDepth: Int
    public var numHeads: Int
    public var mlpRatio: Double
    public var dropPath: Double
    public var dropRate: Double

    public init(defaultVariables: [String] = ClimateVariables.defaultVariables, imageSize: [Int] = [32, 64], patchSize: Int = 2,
                embedDim: Int = 1024, depth: Int = 8, decoderDepth: Int = 2, numHeads: Int = 16, mlpRatio: Double = 4,
                dropPath: Double = 0.1, dropRate: Double = 0.1) {
        self.defaultVariables = defaultVariables.map(ClimateVariables.canonical)
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.embedDim = embedDim
        self.depth = depth
        self.decoderDepth = decoderDepth
        self.numHeads = numHeads
        self.mlpRatio = mlpRatio
        self.dropPath = dropPath
        self.dropRate = dropRate
    }

    /// The released 5.625° model: embed 1024, depth 8, 16 heads, patch 2, 48 variables (≈ 108 M parameters).
    public static let released = ClimaXConfiguration()
    /// The 3.8 M-parameter model of the benchmark: embed 256, depth 4, 8 heads.
    public static let small = ClimaXConfiguration(embedDim: 256, depth: 4, numHeads: 8)
    /// A model that trains in minutes on two cores.
    public static let tiny = ClimaXConfiguration(embedDim: 128, depth: 2, decoderDepth: 1, numHeads: 4, dropPath: 0, dropRate: 0)

    /// Patch rows and columns.
    public var patchGrid: (height: Int, width: Int) { (imageSize[0] / patchSize, imageSize[1] / patchSize) }
    public var tokens: Int { patchGrid.height * patchGrid.width }
    public var headDimension: Int { embedDim / numHeads }
    public var hiddenDimension: Int { Int(Double(embedDim) * mlpRatio) }

    /// What is wrong with these settings, if anything (names are upstream's keys).
    public func problems() -> [String] {
        var problems: [String] = []
        if imageSize.count != 2 { problems.append("img_size must be [H, W], got \(imageSize)") }
        else if patchSize < 1 || imageSize[0] % patchSize != 0 || imageSize[1] % patchSize != 0 {
            problems.append("patch_size \(patchSize) must divide img_size \(imageSize)")
        }
        if numHeads < 1 || embedDim % numHeads != 0 { problems.append("embed_dim \(embedDim) must be a multiple of num_heads \(numHeads)") }
        if embedDim % 4 != 0 { problems.append("embed_dim \(embedDim) must be a multiple of 4 (2-D sin-cos position embedding)") }
        if depth < 0 || decoderDepth < 0 { problems.append("depth and decoder_depth must be non-negative") }
        if !(0..<1).contains(dropPath) || !(0..<1).contains(dropRate) { problems.append("drop_path and drop_rate must be in [0, 1)") }
        if Set(defaultVariables).count != defaultVariables.count { problems.append("default_vars repeats a variable") }
        return problems
    }

    /// Index of each name in `defaultVariables` (either spelling), or the names it lacks.
    public func variableIndices(_ names: [String]) -> Result<[Int], VariableLookupError> {
        var indices: [Int] = [], missing: [String] = []
        for name in names {
            if let index = defaultVariables.firstIndex(of: ClimateVariables.canonical(name)) { indices.append(index) } else { missing.append(name) }
        }
        return missing.isEmpty ? .success(indices) : .failure(VariableLookupError(missing: missing, known: defaultVariables))
    }
}

public struct VariableLookupError: Error, CustomStringConvertible {
    public let missing: [String]
    public let known: [String]
    public var description: String {
        let named = missing.map { ClimateVariables.canonical($0) == $0 ? $0 : "\($0) (\(ClimateVariables.canonical($0)))" }
        return "variable(s) \(named.joined(separator: ", ")) not in the model's default_vars (\(known.joined(separator: ", ")))"
    }
}
