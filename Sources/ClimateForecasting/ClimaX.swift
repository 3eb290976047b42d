// ClimaX (port of microsoft/ClimaX src/climax/arch.py): variable tokenisation, variable
// aggregation, a ViT over patches with a lead-time embedding, and a per-patch prediction head.
import NeuralNetworks
import ParallelRuntime
import TensorCore

/// The patches a regional model keeps (upstream regional_forecast: tokens inside a lat/lon box).
public struct PatchRegion: Equatable, Sendable {
    /// Row-major patch indices in the full patch grid.
    public var tokenIDs: [Int]
    /// Patch rows and columns of the region.
    public var patchRows: Int, patchColumns: Int
    /// Pixel rows and columns of the region in the full grid.
    public var rows: Range<Int>, columns: Range<Int>
}

/// The position embedding and the lead-time embedding, added to every aggregated token.
public final class PositionAndLeadTime: Module {
    /// `[1, L, D]`, initialised to the 2-D sin-cos table of the patch grid (trainable, as upstream).
    public let posEmbed: Parameter
    /// Linear(1, D) of the lead time in hours/100.
    public let leadTimeEmbed: Linear

    init(_ c: ClimaXConfiguration, generator: inout RandomGenerator) {
        posEmbed = Parameter(SinCosEmbedding.twoDimensional(dimension: c.embedDim, height: c.patchGrid.height, width: c.patchGrid.width)
            .reshaped([1, c.tokens, c.embedDim]).cast(to: .float32))
        leadTimeEmbed = Linear(1, c.embedDim, generator: &generator)
    }

    /// - Parameters: h `[B, L, D]`; leadTimes `[B]` (hours/100); tokenIDs: a region's patches (nil: all).
    func callAsFunction(_ h: Tensor, leadTimes: Tensor, tokenIDs: [Int]?) -> Tensor {
        var positions = posEmbed.value
        if let tokenIDs { positions = positions.indexSelect(axis: 1, Tensor(tokenIDs.map(Int64.init), shape: [tokenIDs.count])) }
        let b = h.shape[0]
        return h + positions + leadTimeEmbed(leadTimes.reshaped([b, 1]).cast(to: h.dtype)).unsqueezed(axis: 1)
    }
}

public final class ClimaX: Module, ActivationCheckpointing {
    public let configuration: ClimaXConfiguration
    public let tokenEmbeds: VariablePatchEmbedding
    public let varAgg: VariableAggregation
    public let positions: PositionAndLeadTime
    public let blocks: [ViTBlock]
    public let norm: LayerNorm
    /// `decoder_depth` Linear(D, D) layers (each followed by GELU), then Linear(D, V_all·p²).
    public let head: [Linear]
    /// Draws dropout and stochastic-depth masks.
    public var generator: RandomGenerator
    /// Each ViT block keeps only its input and is run again in the backward pass, from the same
    /// generator state (its dropout and stochastic-depth masks are drawn again, identically).
    public var checkpointsActivations = false

    /// The sequence-parallel group (tokens split over its ranks, Ulysses attention), or nil.
    public private(set) var sequenceParallelGroup: (any Communicator)?

    /// Splits the tokens over `group` from now on: embedding, aggregation and positions run whole on
    /// every rank, the ViT blocks, norm and head on this rank's tokens (attention through Ulysses),
    /// and the predictions are gathered, so every rank returns the whole output. Gradients hold this
    /// rank's share; summed over the group (data parallelism does) they are one process's. Dropout
    /// inside the blocks draws per shard: statistically the same, not the same bits as one process.
    public func enableSequenceParallelism(_ group: any Communicator) throws {
        for block in blocks {
            block.ulysses = group.size > 1 ? try UlyssesAttention(group: group, queryHeads: configuration.numHeads) : nil
        }
        sequenceParallelGroup = group.size > 1 ? group : nil
    }

    /// - Parameter withHead: false leaves out the prediction head (a task with its own head, as
    ///   ClimateBench's projection, calls `encode`).
    public init(_ c: ClimaXConfiguration, seed: UInt64 = 0, withHead: Bool = true) {
        precondition(c.problems().isEmpty, "ClimaX: \(c.problems().joined(separator: "; "))")
        var generator = RandomGenerator(seed: seed)
        configuration = c
        let d = c.embedDim, variables = c.defaultVariables.count
        tokenEmbeds = VariablePatchEmbedding(variables: variables, embedDim: d, patchSize: c.patchSize, generator: &generator)
        varAgg = VariableAggregation(embedDim: d, heads: c.numHeads, generator: &generator)
        positions = PositionAndLeadTime(c, generator: &generator)
        blocks = (0..<c.depth).map { index in
            // Stochastic depth rises linearly from 0 to drop_path over the blocks.
            ViTBlock(c, dropPath: c.depth > 1 ? c.dropPath * Double(index) / Double(c.depth - 1) : 0, generator: &generator)
        }
        norm = LayerNorm(d)
        head = !withHead ? [] : (0..<c.decoderDepth).map { _ in Linear(d, d, generator: &generator) }
            + [Linear(d, variables * c.patchSize * c.patchSize, generator: &generator)]
        self.generator = generator
        super.init()
        // Upstream _init_weights: every nn.Linear trunc-normal(0.02) (absolute bounds ±2, so a normal) with zero bias.
        var draws = RandomGenerator(seed: seed &+ 1)
        for linear in [positions.leadTimeEmbed, varAgg.outProj] + blocks.flatMap({ [$0.qkv, $0.proj, $0.fc1, $0.fc2] }) + head {
            linear.weight.value.assign(draws.normal(linear.weight.shape, std: 0.02))
            linear.bias?.value.assign(.zeros(linear.bias!.shape))
        }
    }

    /// Parameters AdamW does not decay (upstream configure_optimizers: the two embeddings).
    public static func isExemptFromWeightDecay(_ path: String) -> Bool { path == "tokenEmbeds.varEmbed" || path == "positions.posEmbed" }

    /// Set by ZeRO stage 3: gathers each module's parameters before it runs and releases them after.
    public var parameterHooks: (any ModuleHooks)?

    /// Forecast of `outVariables`.
    /// - Parameters:
    ///   - x: normalised inputs `[B, V, H, W]` in the order of `variables`.
    ///   - leadTimes: `[B]`, lead time in hours / 100 (upstream's scaling).
    ///   - region: the patches of a regional model (nil: the whole grid).
    /// - Returns: `[B, V_out, H', W']` (H' × W' the region's pixels when a region is given).
    public func callAsFunction(_ x: Tensor, leadTimes: Tensor, variables: [String], outVariables: [String],
                               region: PatchRegion? = nil) -> Tensor {
        precondition(!head.isEmpty, "ClimaX: built without its head; call encode")
        let c = configuration
        let outIDs = ids(outVariables)
        let b = x.shape[0], p = c.patchSize
        let hooks = parameterHooks
        var (h, sharding) = encodeTokens(x, leadTimes: leadTimes, variables: variables, region: region, added: nil)
        for layer in head.dropLast() { h = layer.run(hooks: hooks, h) { layer($0).gelu() } }
        // Only the output variables' rows of the last layer: channel (i·p + j)·V_all + variable.
        let last = head[head.count - 1], all = c.defaultVariables.count
        let rows = (0..<(p * p)).flatMap { pixel in outIDs.map { Int64(pixel * all + $0) } }
        let rowIDs = Tensor(rows, shape: [rows.count])
        var pixels = last.run(hooks: hooks, h) { h in
            h.linear(weight: last.weight.value.indexSelect(axis: 0, rowIDs), bias: last.bias!.value.indexSelect(axis: 0, rowIDs))
        }
        if let sharding, let group = sequenceParallelGroup {
            pixels = SequenceAllToAll.abortOnFailure { try sharding.gather(pixels, axis: 1, group: group) }
        }
        let (ph, pw) = region.map { ($0.patchRows, $0.patchColumns) } ?? c.patchGrid
        // Unpatchify (upstream einsum nhwpqc → nchpwq).
        return pixels.reshaped([b, ph, pw, p, p, outIDs.count]).permuted([0, 5, 1, 3, 2, 4]).contiguous()
            .reshaped([b, outIDs.count, ph * p, pw * p])
    }

    /// Upstream's `forward_encoder`: the tokens after the ViT blocks and the final norm, `[B, L, D]`.
    /// - Parameter added: `[B, 1, D]` or `[B, L, D]` added with the position and lead-time
    ///   embeddings, before the dropout (ClimateBench's time embedding); nil adds nothing.
    public func encode(_ x: Tensor, leadTimes: Tensor, variables: [String], added: Tensor? = nil) -> Tensor {
        precondition(sequenceParallelGroup == nil, "ClimaX.encode: the whole sequence on one rank")
        return encodeTokens(x, leadTimes: leadTimes, variables: variables, region: nil, added: added).tokens
    }

    /// The encoder: `[B, L, D]` tokens (this rank's shard of them under sequence parallelism, with the sharding).
    private func encodeTokens(_ x: Tensor, leadTimes: Tensor, variables: [String], region: PatchRegion?,
                              added: Tensor?) -> (tokens: Tensor, sharding: SequenceSharding?) {
        let c = configuration
        precondition(x.rank == 4 && x.shape[1] == variables.count && Array(x.shape[2...]) == c.imageSize,
                     "ClimaX: input must be [B, \(variables.count), \(c.imageSize[0]), \(c.imageSize[1])], got \(x.shape)")
        let variableIDs = ids(variables)
        let b = x.shape[0], d = c.embedDim
        let v = variables.count
        let hooks = parameterHooks
        let tokens = tokenEmbeds.run(hooks: hooks, x) { [tokenEmbeds] in tokenEmbeds($0, variableIDs: variableIDs) }  // [B, L_all, V, D]
        let regional = region.map { region in
            tokens.indexSelect(axis: 1, Tensor(region.tokenIDs.map(Int64.init), shape: [region.tokenIDs.count]))
        } ?? tokens
        let l = regional.shape[1]
        // One aggregation per patch position: [B·L, V, D] → [B, L, D].
        var h = varAgg.run(hooks: hooks, regional.reshaped([b * l, v, d])) { [varAgg] in varAgg($0) }.reshaped([b, l, d])
        h = positions.run(hooks: hooks, h) { [positions] in positions($0, leadTimes: leadTimes, tokenIDs: region?.tokenIDs) }
        if let added { h = h + added }
        h = h.dropout(c.dropRate, training: isTraining, generator: &generator)
        // Under sequence parallelism: this rank's tokens (padded to a multiple of the ranks) from here to the head.
        let sharding = sequenceParallelGroup.map { SequenceSharding(length: l, ranks: $0.size) }
        if let sharding, let group = sequenceParallelGroup {
            h = sharding.shard(h, axis: 1, rank: group.rank)
            for block in blocks { block.sequenceLength = l }
        }
        for block in blocks {
            h = block.run(hooks: hooks, h) { [unowned self] x in
                let start = generator
                var after = start
                let output = block.checkpointed(checkpointsActivations, [x]) { inputs in
                    var draws = start
                    defer { after = draws }
                    return [block(inputs[0], generator: &draws)]
                }[0]
                generator = after
                return output
            }
        }
        h = norm.run(hooks: hooks, h) { [norm] in norm($0) }
        return (h, sharding)
    }

    func ids(_ names: [String]) -> [Int] {
        switch configuration.variableIndices(names) {
        case .success(let ids): return ids
        case .failure(let error): preconditionFailure("ClimaX: \(error)")
        }
    }

    /// Forward FLOPs of one sample over `variables` inputs and `outputs` output variables (the
    /// factored aggregation; multiply-adds count two).
    public static func forwardFLOPs(_ c: ClimaXConfiguration, variables: Int, outputs: Int) -> Double {
        let l = Double(c.tokens), d = Double(c.embedDim), v = Double(variables), p2 = Double(c.patchSize * c.patchSize)
        let embed = 2 * v * l * p2 * d
        let aggregation = 2 * l * v * d * Double(c.numHeads) * 2 + 2 * l * d * d * 2
        let attention = 4 * l * l * d
        let block = 2 * l * (3 * d * d + d * d + 2 * d * Double(c.hiddenDimension)) + attention
        let headFLOPs = 2 * l * d * d * Double(c.decoderDepth) + 2 * l * d * p2 * Double(outputs)
        return embed + aggregation + Double(c.depth) * block + headFLOPs
    }
}
