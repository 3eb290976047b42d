// AlphaFold 2 parameter files (`params_model_N[_ptm].npz`, DeepMind's release) into our modules.
// Names are haiku module paths, `alphafold/alphafold_iteration/<module path>//<parameter>`;
// repeated blocks are stacked on axis 0 (evoformer_iteration 48, extra_msa_stack 4). The rules
// (openfold/utils/import_weights.py, per the brief): a JAX Linear is [in, out] — transposed to our
// [out, in] — with attention projections [c_in, H, c] and outputs [H, c, c_out] flattened first;
// LayerNorm scale/offset and biases are taken as they are; the incoming triangle multiplication
// takes left and right swapped (DeepMind commit b88f8da reversed its einsum).
import NeuralNetworks
import TensorCore
import TensorIO

/// One file array (or one layer of a stacked one) and the parameter it fills.
public struct AlphaFoldWeight {
    /// The file key.
    public let key: String
    /// The index along axis 0 for stacked blocks, nil for unstacked arrays.
    public let layer: Int?
    /// How many layers the key stacks (the file array's leading extent), 0 when unstacked.
    public let layers: Int
    /// The array's shape in the file without the stacking axis.
    public let fileShape: [Int]
    /// For a Linear weight, how many leading file axes are its input (flattened, then transposed); nil: copied as is.
    public let inputAxes: Int?
    public let parameter: Parameter

    /// The file array (one layer of it) as our parameter's value.
    func converted(_ array: Tensor) -> Tensor {
        guard let inputAxes else { return array.reshaped(parameter.shape) }
        let inputs = fileShape.prefix(inputAxes).reduce(1, *)
        return array.reshaped([inputs, array.count / inputs]).transposed(0, 1).contiguous()
    }

    /// Our parameter as the file's layout (the inverse of `converted`).
    func fileValue() -> Tensor {
        let value = parameter.value.detached()
        guard inputAxes != nil else { return value.reshaped(fileShape) }
        return value.transposed(0, 1).contiguous().reshaped(fileShape)
    }
}

public enum AlphaFoldWeights {
    static let root = "alphafold/alphafold_iteration/"

    /// Every file array the model needs, in a fixed order.
    public static func weights(for model: AlphaFold) -> [AlphaFoldWeight] {
        var list = WeightList()
        let evoformer = root + "evoformer/"
        let embed = model.inputEmbedder
        list.linear(evoformer + "preprocess_1d", embed.linearTfM)
        list.linear(evoformer + "preprocess_msa", embed.linearMsaM)
        list.linear(evoformer + "left_single", embed.linearTfZI)
        list.linear(evoformer + "right_single", embed.linearTfZJ)
        list.linear(evoformer + "pair_activiations", embed.linearRelpos)  // [sic], as in the release
        list.linear(evoformer + "prev_pos_linear", model.recyclingEmbedder.linear)
        list.layerNorm(evoformer + "prev_msa_first_row_norm", model.recyclingEmbedder.layerNormM)
        list.layerNorm(evoformer + "prev_pair_norm", model.recyclingEmbedder.layerNormZ)
        if let templates = model.templateEmbedder {
            let single = evoformer + "template_embedding/single_template_embedding/"
            list.linear(single + "embedding2d", templates.pairEmbedder)
            for (index, block) in templates.pairStack.enumerated() {
                list.templatePairBlock(single + "template_pair_stack/__layer_stack_no_state/", block, layer: index, layers: templates.pairStack.count)
            }
            list.layerNorm(single + "output_layer_norm", templates.layerNorm)
            list.pointwiseAttention(evoformer + "template_embedding/attention", templates.pointwiseAttention)
            list.linear(evoformer + "template_single_embedding", templates.singleLinear1)
            list.linear(evoformer + "template_projection", templates.singleLinear2)
        }
        list.linear(evoformer + "extra_msa_activations", model.extraMSAEmbedder.linear)
        for (index, block) in model.extraMSAStack.enumerated() {
            list.block(evoformer + "extra_msa_stack/", block, layer: index, layers: model.extraMSAStack.count)
        }
        for (index, block) in model.evoformer.enumerated() {
            list.block(evoformer + "evoformer_iteration/", block, layer: index, layers: model.evoformer.count)
        }
        list.linear(evoformer + "single_activations", model.linearSingle)
        list.structureModule(root + "structure_module/", model.structureModule)
        let plddt = model.plddtHead, head = root + "predicted_lddt_head/"
        list.layerNorm(head + "input_layer_norm", plddt.layerNorm)
        list.linear(head + "act_0", plddt.linear1)
        list.linear(head + "act_1", plddt.linear2)
        list.linear(head + "logits", plddt.linear3)
        list.linear(root + "distogram_head/half_logits", model.distogramHead.linear)
        list.linear(root + "masked_msa_head/logits", model.maskedMSAHead.linear)
        list.linear(root + "experimentally_resolved_head/logits", model.experimentallyResolvedHead.linear)
        if let alignedError = model.alignedErrorHead {
            list.linear(root + "predicted_aligned_error_head/logits", alignedError.linear)
        }
        return list.entries
    }

    /// Fills the model from an AlphaFold `.npz`. Every key the model needs must be present with
    /// its shape (all missing keys are listed in one error); keys the model does not use (heads
    /// it has no use for) are allowed.
    public static func load(_ path: String, into model: AlphaFold) throws {
        let archive = try NumpyArchive(contentsOf: path)
        let names = Set(archive.names)
        let wanted = weights(for: model)
        let missing = Array(Set(wanted.map(\.key)).subtracting(names)).sorted()
        if !missing.isEmpty {
            throw FileError(file: path, message: "\(missing.count) of the \(Set(wanted.map(\.key)).count) arrays preset "
                                        + "\(model.preset.name) needs are missing (is it the right preset's file?):\n  "
                                        + missing.joined(separator: "\n  "))
        }
        var cache: (key: String, value: Tensor)?
        for weight in wanted {
            if cache?.key != weight.key {
                let array = try archive.array(weight.key)
                let expected = (weight.layer == nil ? [] : [weight.layers]) + weight.fileShape
                guard array.shape == expected else {
                    throw FileError(file: path, message: "\(weight.key) has shape \(array.shape), expected \(expected)")
                }
                var value: Tensor
                do { value = try array.tensor() } catch let error as FileError {
                    throw FileError(file: path, message: "\(weight.key): \(error.message)")
                }
                guard value.dtype.isFloatingPoint else {
                    throw FileError(file: path, message: "\(weight.key) holds \(array.descr), expected floating point")
                }
                cache = (weight.key, value)
            }
            var value = cache!.value
            if let layer = weight.layer { value = value.sliced(axis: 0, layer, layer + 1).squeezed(axis: 0) }
            weight.parameter.value = weight.converted(value.contiguous()).cast(to: weight.parameter.value.dtype).contiguous()
        }
    }

    /// Writes the model's parameters as an AlphaFold `.npz` (same keys, shapes and stacking):
    /// the inverse of `load`, for tests and for handing weights to other tools.
    public static func save(_ model: AlphaFold, to path: String) throws {
        var stacks: [String: [Tensor?]] = [:], order: [String] = []
        for weight in weights(for: model) {
            if stacks[weight.key] == nil {
                order.append(weight.key)
                stacks[weight.key] = Array(repeating: nil, count: Swift.max(1, weight.layers))
            }
            stacks[weight.key]![weight.layer ?? 0] = weight.fileValue()
        }
        let arrays = order.map { key -> (String, NumpyArray) in
            let parts = stacks[key]!.map { $0! }
            let value = parts.count == 1 && !isStacked(key) ? parts[0] : Tensor.stack(parts, axis: 0)
            return (key, NumpyArray(value.cast(to: .float32).contiguous()))
        }
        try NumpyArchive.write(arrays, to: path)
    }

    static func isStacked(_ key: String) -> Bool {
        key.contains("/evoformer_iteration/") || key.contains("/extra_msa_stack/") || key.contains("/__layer_stack_no_state/")
    }
}

/// Builds the list of file arrays, module by module.
private struct WeightList {
    var entries: [AlphaFoldWeight] = []
    var layer: Int?
    var layers = 0

    mutating func add(_ key: String, _ parameter: Parameter, fileShape: [Int], inputAxes: Int?) {
        entries.append(AlphaFoldWeight(key: key, layer: layer, layers: layers, fileShape: fileShape, inputAxes: inputAxes, parameter: parameter))
    }

    /// `<path>//weights` [in, out…] and `<path>//bias`; `outputShape` splits the output axis as the file does.
    mutating func linear(_ path: String, _ linear: Linear, outputShape: [Int]? = nil) {
        let (out, input) = (linear.weight.shape[0], linear.weight.shape[1])
        add(path + "//weights", linear.weight, fileShape: [input] + (outputShape ?? [out]), inputAxes: 1)
        if let bias = linear.bias { add(path + "//bias", bias, fileShape: outputShape ?? [out], inputAxes: nil) }
    }

    mutating func layerNorm(_ path: String, _ norm: LayerNorm) {
        add(path + "//scale", norm.weight, fileShape: norm.weight.shape, inputAxes: nil)
        add(path + "//offset", norm.bias, fileShape: norm.bias.shape, inputAxes: nil)
    }

    /// `attention//{query_w, key_w, value_w, gating_w, gating_b, output_w, output_b}`.
    mutating func attention(_ path: String, _ mha: GatedAttention) {
        let (h, c, channels) = (mha.heads, mha.headWidth, mha.linearQ.weight.shape[1])
        for (name, linear) in [("query_w", mha.linearQ), ("key_w", mha.linearK), ("value_w", mha.linearV), ("gating_w", mha.linearG)] {
            add(path + "//" + name, linear.weight, fileShape: [channels, h, c], inputAxes: 1)
        }
        add(path + "//gating_b", mha.linearG.bias!, fileShape: [h, c], inputAxes: nil)
        add(path + "//output_w", mha.linearO.weight, fileShape: [h, c, channels], inputAxes: 2)
        add(path + "//output_b", mha.linearO.bias!, fileShape: [channels], inputAxes: nil)
    }

    /// Global column attention: single-head keys and values `[c_in, c]`.
    mutating func globalAttention(_ path: String, _ mha: MSAGlobalAttention) {
        let (h, c, channels) = (mha.heads, mha.headWidth, mha.linearQ.weight.shape[1])
        add(path + "//query_w", mha.linearQ.weight, fileShape: [channels, h, c], inputAxes: 1)
        add(path + "//key_w", mha.linearK.weight, fileShape: [channels, c], inputAxes: 1)
        add(path + "//value_w", mha.linearV.weight, fileShape: [channels, c], inputAxes: 1)
        add(path + "//gating_w", mha.linearG.weight, fileShape: [channels, h, c], inputAxes: 1)
        add(path + "//gating_b", mha.linearG.bias!, fileShape: [h, c], inputAxes: nil)
        add(path + "//output_w", mha.linearO.weight, fileShape: [h, c, channels], inputAxes: 2)
        add(path + "//output_b", mha.linearO.bias!, fileShape: [channels], inputAxes: nil)
    }

    mutating func transition(_ path: String, _ transition: Transition) {
        layerNorm(path + "input_layer_norm", transition.layerNorm)
        linear(path + "transition1", transition.linear1)
        linear(path + "transition2", transition.linear2)
    }

    mutating func triangleMultiplication(_ path: String, _ update: TriangleMultiplication) {
        // Ours (OpenFold's form) computes outgoing Σ_k a_ik b_jk and incoming Σ_k a_ki b_kj; the
        // release's incoming einsum is Σ_k left_kj right_ki, so there a ← right and b ← left.
        let (a, b) = update.outgoing ? ("left", "right") : ("right", "left")
        layerNorm(path + "layer_norm_input", update.layerNormIn)
        linear(path + a + "_projection", update.linearAP)
        linear(path + b + "_projection", update.linearBP)
        linear(path + a + "_gate", update.linearAG)
        linear(path + b + "_gate", update.linearBG)
        layerNorm(path + "center_layer_norm", update.layerNormOut)
        linear(path + "output_projection", update.linearZ)
        linear(path + "gating_linear", update.linearG)
    }

    mutating func triangleAttention(_ path: String, _ attention: TriangleAttention) {
        layerNorm(path + "query_norm", attention.layerNorm)
        add(path + "/feat_2d_weights", attention.linear.weight, fileShape: [attention.linear.weight.shape[1], attention.linear.weight.shape[0]],
            inputAxes: 1)
        self.attention(path + "attention", attention.mha)
    }

    mutating func block(_ path: String, _ block: EvoformerBlock, layer: Int, layers: Int) {
        (self.layer, self.layers) = (layer, layers)
        defer { (self.layer, self.layers) = (nil, 0) }
        let row = block.msaAttentionRow, rowPath = path + "msa_row_attention_with_pair_bias/"
        layerNorm(rowPath + "query_norm", row.layerNormM)
        layerNorm(rowPath + "feat_2d_norm", row.layerNormZ)
        add(rowPath + "/feat_2d_weights", row.linearZ.weight, fileShape: [row.linearZ.weight.shape[1], row.linearZ.weight.shape[0]], inputAxes: 1)
        attention(rowPath + "attention", row.mha)
        if let column = block.msaAttentionColumn as? MSAColumnAttention {
            layerNorm(path + "msa_column_attention/query_norm", column.layerNormM)
            attention(path + "msa_column_attention/attention", column.mha)
        } else if let global = block.msaAttentionColumn as? MSAGlobalAttention {
            layerNorm(path + "msa_column_global_attention/query_norm", global.layerNormM)
            globalAttention(path + "msa_column_global_attention/attention", global)
        }
        transition(path + "msa_transition/", block.msaTransition)
        let opm = block.outerProductMean, opmPath = path + "outer_product_mean/"
        layerNorm(opmPath + "layer_norm_input", opm.layerNorm)
        linear(opmPath + "left_projection", opm.linear1)
        linear(opmPath + "right_projection", opm.linear2)
        add(opmPath + "/output_w", opm.linearOut.weight, fileShape: [opm.hidden, opm.hidden, opm.linearOut.weight.shape[0]], inputAxes: 2)
        add(opmPath + "/output_b", opm.linearOut.bias!, fileShape: [opm.linearOut.weight.shape[0]], inputAxes: nil)
        triangleMultiplication(path + "triangle_multiplication_outgoing/", block.triangleMultiplicationOutgoing)
        triangleMultiplication(path + "triangle_multiplication_incoming/", block.triangleMultiplicationIncoming)
        triangleAttention(path + "triangle_attention_starting_node/", block.triangleAttentionStarting)
        triangleAttention(path + "triangle_attention_ending_node/", block.triangleAttentionEnding)
        transition(path + "pair_transition/", block.pairTransition)
    }

    mutating func templatePairBlock(_ path: String, _ block: TemplatePairBlock, layer: Int, layers: Int) {
        (self.layer, self.layers) = (layer, layers)
        defer { (self.layer, self.layers) = (nil, 0) }
        triangleAttention(path + "triangle_attention_starting_node/", block.triangleAttentionStarting)
        triangleAttention(path + "triangle_attention_ending_node/", block.triangleAttentionEnding)
        triangleMultiplication(path + "triangle_multiplication_outgoing/", block.triangleMultiplicationOutgoing)
        triangleMultiplication(path + "triangle_multiplication_incoming/", block.triangleMultiplicationIncoming)
        transition(path + "pair_transition/", block.pairTransition)
    }

    /// The template pointwise attention: `attention//{query_w, key_w, value_w, output_w, output_b}` (no gate).
    mutating func pointwiseAttention(_ path: String, _ attention: TemplatePointwiseAttention) {
        let (h, c) = (attention.heads, attention.headWidth)
        for (name, linear) in [("query_w", attention.linearQ), ("key_w", attention.linearK), ("value_w", attention.linearV)] {
            add(path + "//" + name, linear.weight, fileShape: [linear.weight.shape[1], h, c], inputAxes: 1)
        }
        let channels = attention.linearO.weight.shape[0]
        add(path + "//output_w", attention.linearO.weight, fileShape: [h, c, channels], inputAxes: 2)
        add(path + "//output_b", attention.linearO.bias!, fileShape: [channels], inputAxes: nil)
    }

    mutating func structureModule(_ path: String, _ module: StructureModule) {
        layerNorm(path + "single_layer_norm", module.layerNormS)
        linear(path + "initial_projection", module.linearIn)
        layerNorm(path + "pair_layer_norm", module.layerNormZ)
        let fold = path + "fold_iteration/", ipa = module.ipa, ipaPath = fold + "invariant_point_attention/"
        linear(ipaPath + "q_scalar", ipa.linearQ)
        linear(ipaPath + "kv_scalar", ipa.linearKV)
        linear(ipaPath + "q_point_local", ipa.linearQPoints)
        linear(ipaPath + "kv_point_local", ipa.linearKVPoints)
        add(ipaPath + "/trainable_point_weights", ipa.headWeights, fileShape: [ipa.heads], inputAxes: nil)
        linear(ipaPath + "attention_2d", ipa.linearB)
        linear(ipaPath + "output_projection", ipa.linearOut)
        layerNorm(fold + "attention_layer_norm", module.layerNormIPA)
        let transition = module.transition
        linear(fold + "transition", transition.linear1)
        linear(fold + "transition_1", transition.linear2)
        linear(fold + "transition_2", transition.linear3)
        layerNorm(fold + "transition_layer_norm", transition.layerNorm)
        linear(fold + "affine_update", module.backboneUpdate.linear)
        let angles = module.angleResNet, sidechain = fold + "rigid_sidechain/"
        linear(sidechain + "input_projection", angles.linearIn)
        linear(sidechain + "input_projection_1", angles.linearInitial)
        for (index, pair) in stride(from: 0, to: angles.blocks.count, by: 2).enumerated() {
            let suffix = index == 0 ? "" : "_\(index)"
            linear(sidechain + "resblock1" + suffix, angles.blocks[pair])
            linear(sidechain + "resblock2" + suffix, angles.blocks[pair + 1])
        }
        linear(sidechain + "unnormalized_angles", angles.linearOut)
    }
}
