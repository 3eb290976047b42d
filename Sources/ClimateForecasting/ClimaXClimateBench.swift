// ClimaX for ClimateBench climate projection (upstream climate_projection/arch.py,
// ClimaXClimateBench): each of T years of forcing maps goes through ClimaX's encoder with a
// time embedding, tokens are averaged over the grid, one learned query attends over the years,
// and a linear head maps the result to one output field.
import NeuralNetworks
import TensorCore

public final class ClimaXClimateBench: Module {
    /// ClimaX without its head: patch and variable embedding, aggregation, positions, blocks, norm.
    public let backbone: ClimaX
    /// `[1, T, D]`, the 1-D sin-cos table of the years 0 … T−1 (trainable, as upstream).
    public let timePosEmbed: Parameter
    /// nn.MultiheadAttention with one learned query (upstream `time_agg` and `time_query`):
    /// the same single-query attention as the variable aggregation.
    public let timeAgg: VariableAggregation
    /// Linear(D, H·W): the output field.
    public let head: Linear
    public let timeHistory: Int

    public init(_ c: ClimaXConfiguration, timeHistory: Int, seed: UInt64 = 0) {
        backbone = ClimaX(c, seed: seed, withHead: false)
        self.timeHistory = timeHistory
        let table = SinCosEmbedding.oneDimensional(dimension: c.embedDim, positions: (0..<timeHistory).map(Double.init))
        timePosEmbed = Parameter(Tensor(table.flatMap { $0.map(Float.init) }, shape: [1, timeHistory, c.embedDim]))
        var generator = RandomGenerator(seed: seed &+ 2)
        timeAgg = VariableAggregation(embedDim: c.embedDim, heads: c.numHeads, generator: &generator)
        // Made after upstream's weight initialisation, so both keep torch's defaults (out_proj's bias zero).
        timeAgg.outProj.bias?.value.assign(.zeros([c.embedDim]))
        head = Linear(c.embedDim, c.imageSize[0] * c.imageSize[1], generator: &generator)
        super.init()
    }

    public var configuration: ClimaXConfiguration { backbone.configuration }

    /// Parameters AdamW does not decay: ClimaX's two embeddings and the time embedding.
    public static func isExemptFromWeightDecay(_ path: String) -> Bool {
        path == "timePosEmbed" || (path.hasPrefix("backbone.") && ClimaX.isExemptFromWeightDecay(String(path.dropFirst(9))))
    }

    /// - Parameters:
    ///   - x: normalised forcings `[B, T, V, H, W]`, variables in the order of `variables`.
    ///   - leadTimes: `[B]` (upstream passes 0).
    /// - Returns: `[B, 1, H, W]`.
    public func callAsFunction(_ x: Tensor, leadTimes: Tensor, variables: [String]) -> Tensor {
        let c = configuration, (b, t, d) = (x.shape[0], x.shape[1], c.embedDim)
        precondition(x.rank == 5 && t == timeHistory, "ClimaXClimateBench: input must be [B, \(timeHistory), V, H, W], got \(x.shape)")
        // Years become batch entries of the encoder: [B·T, V, H, W]; year τ's embedding joins its tokens.
        let years = x.reshaped([b * t] + Array(x.shape[2...]))
        let timeEmbedding = timePosEmbed.value.expanded(to: [b, t, d]).contiguous().reshaped([b * t, 1, d])
        let leads = leadTimes.reshaped([b, 1]).expanded(to: [b, t]).contiguous().reshaped([b * t])
        let tokens = backbone.encode(years, leadTimes: leads, variables: variables, added: timeEmbedding)  // [B·T, L, D]
        // Global average pooling over the grid, then one query over the years.
        let pooled = tokens.mean(axis: 1).reshaped([b, t, d])
        let summary = timeAgg(pooled)  // [B, D]
        return head(summary).reshaped([b, 1, c.imageSize[0], c.imageSize[1]])
    }
}
