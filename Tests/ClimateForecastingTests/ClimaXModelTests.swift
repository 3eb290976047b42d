import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore
import TensorIO

@Suite("ClimaX model")
struct ClimaXModelTests {
    static let tinyVariables = ["land_sea_mask", "orography", "lattitude", "2m_temperature", "geopotential_500", "temperature_850"]

    static func tiny(heads: Int = 2, embed: Int = 16, depth: Int = 1, decoderDepth: Int = 1, seed: UInt64 = 0) -> ClimaX {
        ClimaX(ClimaXConfiguration(defaultVariables: tinyVariables, imageSize: [8, 16], patchSize: 2, embedDim: embed, depth: depth,
                                   decoderDepth: decoderDepth, numHeads: heads, dropPath: 0, dropRate: 0), seed: seed)
    }

    /// Every parameter of `module` as float64 leaves.
    static func toDouble(_ module: Module) {
        for (_, parameter) in module.namedParameters() { parameter.value = parameter.value.cast(to: .float64).detached().requiringGrad() }
    }

    @Test("the factored variable aggregation equals nn.MultiheadAttention's arithmetic, values and gradients (Double)")
    func factoredAggregationMatchesReference() throws {
        var generator = RandomGenerator(seed: 5)
        let aggregation = VariableAggregation(embedDim: 12, heads: 3, generator: &generator)
        Self.toDouble(aggregation)
        // A non-zero query, as after training (zero at initialisation).
        aggregation.query.value = generator.normal([1, 1, 12], dtype: .float64).requiringGrad()
        aggregation.inProjBias.value = generator.normal([36], dtype: .float64).requiringGrad()
        let x = generator.normal([5, 7, 12], dtype: .float64).requiringGrad()
        let weights = generator.normal([5, 12], dtype: .float64)
        var outputs: [Tensor] = [], gradients: [[Tensor]] = []
        for fused in [true, false] {
            aggregation.fused = fused
            aggregation.zeroGrad()
            x.zeroGrad()
            let y = aggregation(x)
            try (y * weights).sum().backward()
            outputs.append(y.detached())
            gradients.append([x.grad!] + aggregation.parameters().map { $0.grad ?? .zeros($0.shape, dtype: .float64) })
        }
        #expect(outputs[0].shape == [5, 12])
        #expect(((outputs[0] - outputs[1]).abs().max().item()) < 1e-12)
        for (a, b) in zip(gradients[0], gradients[1]) { #expect((a - b).abs().max().item() < 1e-11) }
        // The key bias cancels in the softmax: its gradient is zero in both forms.
        let keyBiasGradient = aggregation.inProjBias.grad!.sliced(axis: 0, 12, 24)
        #expect(keyBiasGradient.abs().max().item() < 1e-12)
    }

    @Test("the factored aggregation passes gradcheck with respect to its input and query (Double)")
    func aggregationGradcheck() {
        var generator = RandomGenerator(seed: 9)
        let aggregation = VariableAggregation(embedDim: 8, heads: 2, generator: &generator)
        Self.toDouble(aggregation)
        let x = generator.normal([3, 4, 8], dtype: .float64), query = generator.normal([1, 1, 8], dtype: .float64)
        let result = gradcheck({ inputs in
            aggregation.query.value = inputs[1]
            return aggregation(inputs[0])
        }, inputs: [x, query])
        #expect(result.passed, "\(result)")
    }

    @Test("the grouped patch embedding is each variable's p×p stride-p convolution plus its variable embedding")
    func patchEmbeddingIsConvolution() {
        var generator = RandomGenerator(seed: 2)
        let embedding = VariablePatchEmbedding(variables: 4, embedDim: 4, patchSize: 2, generator: &generator)
        let x = generator.normal([2, 2, 4, 6])
        let ids = [3, 1]
        let out = embedding(x, variableIDs: ids).contiguous()  // [B, L, V, D]
        #expect(out.shape == [2, 6, 2, 4])
        let xs = x.doubles, o = out.doubles
        let weight = embedding.projWeights.value.doubles, bias = embedding.projBiases.value.doubles
        let variableEmbedding = embedding.varEmbed.value.doubles
        var worst = 0.0
        for b in 0..<2 { for v in 0..<2 { for pr in 0..<2 { for pc in 0..<3 { for d in 0..<4 {
            var sum = bias[ids[v] * 4 + d] + variableEmbedding[ids[v] * 4 + d]
            for i in 0..<2 { for j in 0..<2 {
                sum += weight[((ids[v] * 4 + d) * 2 + i) * 2 + j] * xs[((b * 2 + v) * 4 + pr * 2 + i) * 6 + pc * 2 + j]
            } }
            worst = max(worst, abs(sum - o[((b * 6 + pr * 3 + pc) * 2 + v) * 4 + d]))
        } } } } }
        #expect(worst < 1e-5)
    }

    @Test("unpatchify puts channel (i·p + j)·V_all + variable at pixel (i, j) of each patch, for the selected outputs")
    func unpatchifyOrder() {
        let model = Self.tiny()
        model.eval()
        let last = model.head[model.head.count - 1]
        last.weight.value.assign(.zeros(last.weight.shape))
        last.bias!.value.assign(Tensor((0..<last.bias!.shape[0]).map { Float($0) }, shape: last.bias!.shape))
        var generator = RandomGenerator(seed: 4)
        let x = generator.normal([2, 3, 8, 16])
        let outputs = ["temperature_850", "land_sea_mask"]
        let y = model(x, leadTimes: Tensor([Float(0.72), 0.06], shape: [2]), variables: ["2m_temperature", "geopotential_500", "orography"],
                      outVariables: outputs).contiguous()
        #expect(y.shape == [2, 2, 8, 16])
        let values = y.doubles, all = Self.tinyVariables.count
        var mismatches = 0
        for b in 0..<2 { for (v, name) in outputs.enumerated() { for row in 0..<8 { for column in 0..<16 {
            let variable = Self.tinyVariables.firstIndex(of: name)!
            let expected = Double(((row % 2) * 2 + column % 2) * all + variable)
            if values[((b * 2 + v) * 8 + row) * 16 + column] != expected { mismatches += 1 }
        } } } }
        #expect(mismatches == 0)
    }

    @Test("a regional model keeps the box's patches and predicts its cells")
    func regionalForward() throws {
        let model = Self.tiny()
        let latitudes = (0..<8).map { -90 + 22.5 * (Double($0) + 0.5) }, longitudes = (0..<16).map { 22.5 * Double($0) }
        let region = try ClimateRegions.patches(region: "SouthAsia", latitudes: latitudes, longitudes: longitudes, patchSize: 2)
        var generator = RandomGenerator(seed: 1)
        let y = model(generator.normal([1, 2, 8, 16]), leadTimes: Tensor([Float(0.72)], shape: [1]), variables: ["2m_temperature", "orography"],
                      outVariables: ["2m_temperature"], region: region)
        #expect(y.shape == [1, 1, region.patchRows * 2, region.patchColumns * 2])
        #expect(region.tokenIDs.count == region.patchRows * region.patchColumns)
    }

    @Test("one training step reaches every parameter")
    func gradientsEverywhere() throws {
        let model = Self.tiny(depth: 2, decoderDepth: 2)
        var generator = RandomGenerator(seed: 3)
        let x = generator.normal([2, 6, 8, 16]), target = generator.normal([2, 2, 8, 16])
        let y = model(x, leadTimes: Tensor([Float(0.72), 0.24], shape: [2]), variables: Self.tinyVariables, outVariables: ["geopotential_500", "temperature_850"])
        try LatitudeWeights.meanSquaredError(y, target, latitudes: (0..<8).map { -78.75 + 22.5 * Double($0) }).backward()
        let missing = model.namedParameters().filter { ($0.1.grad?.abs().max().item() ?? 0) == 0 }.map(\.0)
        // The head's last layer has rows for every default variable; only the selected ones get gradient,
        // so the check is on its used rows being non-zero: the whole tensor is not all zero.
        #expect(missing.isEmpty, "no gradient: \(missing)")
    }

    @Test("sin-cos tables: 1-D sin then cos halves, 2-D column half then row half")
    func sinCos() {
        let one = SinCosEmbedding.oneDimensional(dimension: 4, positions: [3])
        #expect(abs(one[0][0] - sin(3)) < 1e-12 && abs(one[0][1] - sin(3 / 100)) < 1e-12 && abs(one[0][2] - cos(3)) < 1e-12)
        let two = SinCosEmbedding.twoDimensional(dimension: 8, height: 2, width: 3).doubles  // [6, 8]
        // Token (row 1, column 2) = index 5: first half encodes column 2, second half row 1.
        #expect(abs(two[5 * 8 + 0] - sin(2)) < 1e-6 && abs(two[5 * 8 + 4] - sin(1)) < 1e-6 && abs(two[5 * 8 + 6] - cos(1)) < 1e-6)
    }

    @Test("weights written under upstream's names (net. prefix, token_embeds.{i}.proj, timm qkv rows) load back exactly")
    func weightRoundTrip() throws {
        let source = Self.tiny(heads: 2, embed: 16, depth: 2, seed: 1), target = Self.tiny(heads: 2, embed: 16, depth: 2, seed: 8)
        let directory = try Fixtures.scratchDirectory()
        let path = directory.appendingPathComponent("climax.safetensors").path
        try ClimaXWeights.save(source, to: path)
        let (tensors, _) = try Safetensors.read(from: path)
        let byName = Dictionary(uniqueKeysWithValues: tensors)
        #expect(byName["net.token_embeds.0.proj.weight"]?.shape == [16, 1, 2, 2])
        #expect(byName["net.token_embeds.5.proj.bias"]?.shape == [16])
        #expect(byName["net.var_agg.in_proj_weight"]?.shape == [48, 16])
        #expect(byName["net.var_query"]?.shape == [1, 1, 16] && byName["net.var_embed"]?.shape == [1, 6, 16])
        #expect(byName["net.pos_embed"]?.shape == [1, 32, 16] && byName["net.lead_time_embed.weight"]?.shape == [16, 1])
        #expect(byName["net.blocks.1.mlp.fc2.weight"]?.shape == [16, 64] && byName["net.head.2.weight"]?.shape == [6 * 4, 16])
        // timm's qkv rows are (q, k, v) × heads × d_h: the file's key rows of head 1 are ours at head 1's k slot.
        let file = byName["net.blocks.0.attn.qkv.weight"]!.doubles, ours = source.blocks[0].qkv.weight.value.doubles
        let dh = 8
        let fileKeyHead1 = Array(file[((16 + dh) * 16)..<((16 + 2 * dh) * 16)])
        let oursKeyHead1 = Array(ours[((3 * dh + dh) * 16)..<((3 * dh + 2 * dh) * 16)])
        #expect(fileKeyHead1 == oursKeyHead1)
        try ClimaXWeights.load(target, from: path)
        for ((name, a), (_, b)) in zip(source.namedParameters(), target.namedParameters()) {
            #expect(a.value.doubles == b.value.doubles, "\(name)")
        }
        // A checkpoint of another width fails naming the file and the mismatched keys.
        let other = Self.tiny(heads: 2, embed: 8, depth: 2)
        #expect(throws: FileError.self) { try ClimaXWeights.load(other, from: path) }
        do { try ClimaXWeights.load(other, from: path) } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("var_agg.in_proj_weight has shape [48, 16], expected [24, 8]"))
        }
    }

    @Test("a checkpoint of ClimaX's 48 variables loads into a model of other variables by name; new ones keep their initialisation")
    func variablesMatchedByName() throws {
        func configuration(_ variables: [String]) -> ClimaXConfiguration {
            ClimaXConfiguration(defaultVariables: variables, imageSize: [8, 16], patchSize: 2, embedDim: 16, depth: 1, decoderDepth: 1,
                                numHeads: 2, dropPath: 0, dropRate: 0)
        }
        let pretrained = ClimaX(configuration(ClimateVariables.defaultVariables), seed: 2)
        let path = try Fixtures.scratchDirectory().appendingPathComponent("released-like.safetensors").path
        try ClimaXWeights.save(pretrained, to: path)
        let ours = ["temperature_850", "total_precipitation", "2m_temperature", "geopotential_500", "land_sea_mask"]
        let model = ClimaX(configuration(ours), seed: 9)
        let freshRow = model.tokenEmbeds.varEmbed.value.sliced(axis: 1, 1, 2).doubles
        let loaded = try ClimaXWeights.load(model, from: path)
        #expect(loaded.freshVariables == ["total_precipitation"] && loaded.resizedPositions == nil)
        #expect(model.tokenEmbeds.varEmbed.value.sliced(axis: 1, 1, 2).doubles == freshRow)
        let index = ClimateVariables.defaultVariables.firstIndex(of: "geopotential_500")!
        #expect(model.tokenEmbeds.varEmbed.value.sliced(axis: 1, 3, 4).doubles == pretrained.tokenEmbeds.varEmbed.value.sliced(axis: 1, index, index + 1).doubles)
        // Same inputs and outputs through both models: the same forecast.
        pretrained.eval(); model.eval()
        var generator = RandomGenerator(seed: 6)
        let x = generator.normal([1, 3, 8, 16]), lead = Tensor([Float(0.72)], shape: [1])
        let inputs = ["2m_temperature", "land_sea_mask", "geopotential_500"], outputs = ["geopotential_500", "temperature_850"]
        let a = withNoGrad { pretrained(x, leadTimes: lead, variables: inputs, outVariables: outputs) }.doubles
        let b = withNoGrad { model(x, leadTimes: lead, variables: inputs, outVariables: outputs) }.doubles
        #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test("the released configuration has upstream's 108 M parameters; small has 3.8 M")
    func parameterCounts() {
        #expect(ClimaX(.small).parameterCount == 3_809_216)
        let c = ClimaXConfiguration.released
        // Counted from the shapes (building the model takes 0.4 GB).
        let d = c.embedDim, v = c.defaultVariables.count, l = c.tokens, hidden = c.hiddenDimension
        let block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (hidden * d + hidden) + (d * hidden + d)
        let total = v * d * 4 + v * d + v * d + (3 * d * d + 3 * d) + (d * d + d) + d + l * d + (d + d) + c.depth * block + 2 * d
            + c.decoderDepth * (d * d + d) + (v * 4 * d + v * 4)
        #expect(total == 108_088_512)
    }
}
