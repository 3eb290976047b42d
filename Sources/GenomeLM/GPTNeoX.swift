// GPT-NeoX for causal language modelling, as Hugging Face's GPTNeoXForCausalLM computes it
// (port of transformers/models/gpt_neox/modeling_gpt_neox.py): fused query_key_value laid out
// per head, partial rotary, parallel residual, untied embed_out. Beyond Hugging Face's model: ALiBi and
// T5-style relative buckets in place of rotary (EleutherAI gpt-neox's `pos_emb`), applied per tile.
import NeuralNetworks
import ParallelRuntime
import TensorCore

public final class GPTNeoXAttention: Module {
    public let queryKeyValue: Linear
    public let dense: Linear
    let heads: Int
    let headDimension: Int
    /// Nil when `pos_emb` is alibi or rpe.
    let rotary: RotaryEmbedding?
    /// One slope per head when `pos_emb` is alibi.
    let alibiSlopes: [Double]?
    var method: AttentionMethod = .fused
    /// Set when the sequence is split over ranks: q, k, v travel to head shards and back.
    var ulysses: UlyssesAttention?

    init(_ c: GPTNeoXConfiguration, dtype: DType, generator: inout RandomGenerator) {
        queryKeyValue = Linear(c.hiddenSize, 3 * c.hiddenSize, dtype: dtype, generator: &generator)
        dense = Linear(c.hiddenSize, c.hiddenSize, dtype: dtype, generator: &generator)
        heads = c.numAttentionHeads
        headDimension = c.headDimension
        rotary = c.rotaryEmbedding
        alibiSlopes = c.positionEmbedding == .alibi ? NeuralNetworks.alibiSlopes(heads: c.numAttentionHeads) : nil
    }

    /// - Parameters: x `[B, S, hidden]` (under sequence parallelism `[B, S/P, hidden]`, this rank's
    ///   positions); keyMask bool `[B, S]` of the whole sequence (false on padding); relativeBias
    ///   `[H, 2S − 1]` of the whole sequence when `pos_emb` is rpe.
    func callAsFunction(_ x: Tensor, keyMask: Tensor?, relativeBias: Tensor? = nil) -> Tensor {
        let (b, s) = (x.shape[0], x.shape[1])
        // [B, S, 3·hidden] → [B, S, H, 3·d]: q, k and v are contiguous within each head.
        let qkv = queryKeyValue(x).reshaped([b, s, heads, 3 * headDimension])
        if let ulysses {
            // Rotary is applied after the all-to-all, at global positions.
            let q = qkv.sliced(axis: 3, 0, headDimension).contiguous()
            let k = qkv.sliced(axis: 3, headDimension, 2 * headDimension).contiguous()
            let v = qkv.sliced(axis: 3, 2 * headDimension, 3 * headDimension).contiguous()
            // This rank's heads keep their own ALiBi slopes and relative-bias rows.
            let local = ulysses.localHeads
            let slopes = alibiSlopes.map { Array($0[local]) }
            let relative = relativeBias.map { $0.sliced(axis: 0, local.lowerBound, local.upperBound) }
            let context = SequenceAllToAll.abortOnFailure {
                try ulysses(q, k, v) { q, k, v in
                    Tensor.scaledDotProductAttention(q, k, v, relativeBias: relative?.contiguous(),
                                                     masking: AttentionMasking(causal: true, alibiSlopes: slopes, keyMask: keyMask), method: method)
                }
            }
            return dense(context.reshaped([b, s, heads * headDimension]))
        }
        let masking = AttentionMasking(causal: true, alibiSlopes: alibiSlopes, keyMask: keyMask)
        let rotated = rotary?.apply(qkv, parts: [0, headDimension]) ?? qkv
        let context: Tensor
        switch method {
        case .fused:
            // q, k and v are read in place from the fused projection; one gradient comes back.
            context = Tensor.packedSelfAttention(rotated, relativeBias: relativeBias, masking: masking)
        case .reference:
            context = Tensor.scaledDotProductAttention(rotated.sliced(axis: 3, 0, headDimension), rotated.sliced(axis: 3, headDimension, 2 * headDimension),
                                                       rotated.sliced(axis: 3, 2 * headDimension, 3 * headDimension), relativeBias: relativeBias,
                                                       masking: masking, method: .reference)
        }
        return dense(context.reshaped([b, s, heads * headDimension]))
    }

    /// Attention of new positions over the cached ones and themselves (inference): `x` `[B, n, hidden]`
    /// at positions `cache.length`…; appends their rotated keys and values to `entry`.
    func callAsFunction(_ x: Tensor, appendingTo entry: inout KeyValueCache.Entry, at offset: Int, relativeBias: Tensor? = nil) -> Tensor {
        let (b, n) = (x.shape[0], x.shape[1])
        let projected = queryKeyValue(x).reshaped([b, n, heads, 3 * headDimension])
        let rotated = rotary?.apply(projected, parts: [0, headDimension], offset: offset) ?? projected
        let q = rotated.sliced(axis: 3, 0, headDimension)
        entry.append(keys: rotated.sliced(axis: 3, headDimension, 2 * headDimension), values: rotated.sliced(axis: 3, 2 * headDimension, 3 * headDimension))
        let context = Tensor.scaledDotProductAttention(q, entry.keys!, entry.values!, relativeBias: relativeBias,
                                                       masking: AttentionMasking(causal: true, queryOffset: offset, alibiSlopes: alibiSlopes),
                                                       method: method)
        return dense(context.reshaped([b, n, heads * headDimension]))
    }
}

/// Keys and values of the positions a model has already seen, per layer, so generating a token
/// costs one position's work instead of the whole prefix's (Hugging Face's `past_key_values`).
public final class KeyValueCache {
    /// One layer's rotated keys and values `[B, T, H, d]`, in storage with room to grow (doubling),
    /// so appending a token copies that token only.
    struct Entry {
        private var keyStorage: Tensor?, valueStorage: Tensor?
        private(set) var length = 0

        var keys: Tensor? { keyStorage?.sliced(axis: 1, 0, length) }
        var values: Tensor? { valueStorage?.sliced(axis: 1, 0, length) }

        mutating func append(keys k: Tensor, values v: Tensor) {
            let n = k.shape[1], capacity = keyStorage?.shape[1] ?? 0
            if length + n > capacity {
                let grown = Swift.max(length + n, 2 * capacity, 64)
                var shape = k.shape
                shape[1] = grown
                var (newKeys, newValues) = (Tensor.zeros(shape, dtype: k.dtype), Tensor.zeros(shape, dtype: v.dtype))
                if let keys, let values {
                    newKeys.replaceSlice(axis: 1, start: 0, with: keys)
                    newValues.replaceSlice(axis: 1, start: 0, with: values)
                }
                (keyStorage, valueStorage) = (newKeys, newValues)
            }
            keyStorage!.replaceSlice(axis: 1, start: length, with: k)
            valueStorage!.replaceSlice(axis: 1, start: length, with: v)
            length += n
        }
    }

    var entries: [Entry]
    /// Positions seen so far.
    public var length: Int { entries.first?.length ?? 0 }

    public init(layers: Int) { entries = Array(repeating: Entry(), count: layers) }
}

public final class GPTNeoXLayer: Module {
    public let inputLayernorm: LayerNorm
    public let postAttentionLayernorm: LayerNorm
    public let attention: GPTNeoXAttention
    public let denseHTo4h: Linear
    public let dense4hToH: Linear
    let activation: Activation
    let parallelResidual: Bool

    init(_ c: GPTNeoXConfiguration, dtype: DType, generator: inout RandomGenerator) {
        inputLayernorm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEps, dtype: dtype)
        postAttentionLayernorm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEps, dtype: dtype)
        attention = GPTNeoXAttention(c, dtype: dtype, generator: &generator)
        denseHTo4h = Linear(c.hiddenSize, c.intermediateSize, dtype: dtype, generator: &generator)
        dense4hToH = Linear(c.intermediateSize, c.hiddenSize, dtype: dtype, generator: &generator)
        activation = c.activation ?? .gelu
        parallelResidual = c.useParallelResidual
    }

    func callAsFunction(_ x: Tensor, keyMask: Tensor?, relativeBias: Tensor? = nil) -> Tensor {
        residual(x, attended: attention(inputLayernorm(x), keyMask: keyMask, relativeBias: relativeBias))
    }

    /// The layer on new positions with cached keys and values (inference).
    func callAsFunction(_ x: Tensor, appendingTo entry: inout KeyValueCache.Entry, at offset: Int, relativeBias: Tensor? = nil) -> Tensor {
        residual(x, attended: attention(inputLayernorm(x), appendingTo: &entry, at: offset, relativeBias: relativeBias))
    }

    private func residual(_ x: Tensor, attended: Tensor) -> Tensor {
        if parallelResidual {
            // x + Attn(LN₁ x) + MLP(LN₂ x)
            return x + attended + dense4hToH(activation(denseHTo4h(postAttentionLayernorm(x))))
        }
        let h = x + attended
        return h + dense4hToH(activation(denseHTo4h(postAttentionLayernorm(h))))
    }
}

public final class GPTNeoXForCausalLM: Module, ActivationCheckpointing {
    public let configuration: GPTNeoXConfiguration
    public let embedIn: Embedding
    public let layers: [GPTNeoXLayer]
    public let finalLayerNorm: LayerNorm
    public let embedOut: Linear
    /// T5's bucket table `[buckets, H]`, shared by every layer as in T5, when `pos_emb` is rpe.
    public let relativeAttentionBias: T5RelativeBias?

    /// Initialised as Hugging Face does: linear and embedding weights N(0, initializer_range),
    /// biases 0, layer norms 1 and 0 (the rpe table N(0, initializer_range) too).
    public init(_ c: GPTNeoXConfiguration, dtype: DType = .float32, seed: UInt64 = 0) {
        var generator = RandomGenerator(seed: seed)
        configuration = c
        embedIn = Embedding(c.vocabSize, c.hiddenSize, dtype: dtype, generator: &generator)
        layers = (0..<c.numHiddenLayers).map { _ in GPTNeoXLayer(c, dtype: dtype, generator: &generator) }
        finalLayerNorm = LayerNorm(c.hiddenSize, epsilon: c.layerNormEps, dtype: dtype)
        embedOut = Linear(c.hiddenSize, c.vocabSize, bias: false, dtype: dtype, generator: &generator)
        relativeAttentionBias = c.positionEmbedding == .rpe
            ? T5RelativeBias(heads: c.numAttentionHeads, bidirectional: false, buckets: c.relativeBuckets, maxDistance: c.relativeMaxDistance,
                             dtype: dtype, initialStd: c.initializerRange, generator: &generator)
            : nil
        super.init()
        for (path, parameter) in namedParameters() {
            if path.hasSuffix("weight") && parameter.shape.count == 2 {
                parameter.reinitialize(InitialValues(.normal(mean: 0, std: c.initializerRange), shape: parameter.shape, dtype: dtype,
                                                     generator: &generator))
            } else if path.hasSuffix("bias") && !path.contains("layernorm") && !path.contains("LayerNorm") {
                parameter.reinitialize(.constant(0, shape: parameter.shape, dtype: dtype))
            }
        }
    }

    /// Chooses the attention kernel of every layer (the fused one by default).
    public func setAttentionMethod(_ method: AttentionMethod) { layers.forEach { $0.attention.method = method } }

    /// The sequence-parallel group (DeepSpeed-Ulysses), or nil for whole sequences on one rank.
    public private(set) var sequenceParallelGroup: (any Communicator)?

    /// Splits every sequence over `group` from now on: `sequenceParallelLoss` takes whole batches
    /// and each rank computes its contiguous slice of positions.
    public func enableSequenceParallelism(_ group: any Communicator) throws {
        let c = configuration
        for layer in layers {
            layer.attention.ulysses = group.size > 1
                ? try UlyssesAttention(group: group, queryHeads: c.numAttentionHeads, rotary: layer.attention.rotary) : nil
        }
        sequenceParallelGroup = group.size > 1 ? group : nil
    }

    /// Hidden states after the final layer norm, `[B, S, hidden]`.
    /// - Parameters: ids int64 `[B, S]`; attentionMask int64 `[B, S]` (1 real, 0 padding) or nil.
    public func hiddenStates(_ ids: Tensor, attentionMask: Tensor?) -> Tensor {
        precondition(ids.rank == 2, "GPTNeoX: ids must be [B, S], got \(ids.shape)")
        precondition(ids.shape[1] <= configuration.maxPositionEmbeddings,
                     "GPTNeoX: sequence of \(ids.shape[1]) exceeds max_position_embeddings \(configuration.maxPositionEmbeddings)")
        return finalHidden(ids, keyMask: attentionMask.map { $0 != 0.0 })
    }

    /// Set by ZeRO stage 3: gathers each block's parameters before it runs and releases them after.
    public var parameterHooks: (any ModuleHooks)?

    /// Each layer keeps only its input and recomputes its activations in the backward pass.
    public var checkpointsActivations = false

    /// Embedding, layers and final layer norm, each block inside the parameter hooks.
    func finalHidden(_ ids: Tensor, keyMask: Tensor?) -> Tensor {
        var h = embedIn.run(hooks: parameterHooks, ids) { embedIn($0) }
        // The relative bias of the whole (padded) sequence, once for every layer.
        let length = ids.shape[1] * (sequenceParallelGroup?.size ?? 1)
        let relativeBias = relativeAttentionBias.map { table in
            table.run(hooks: parameterHooks, h) { _ in table.relative(queryLength: length, keyLength: length) }
        }
        for layer in layers {
            h = layer.run(hooks: parameterHooks, h) { x in
                layer.checkpointed(checkpointsActivations, [x] + [relativeBias].compactMap { $0 }) { inputs in
                    [layer(inputs[0], keyMask: keyMask, relativeBias: inputs.count > 1 ? inputs[1] : nil)]
                }[0]
            }
        }
        return finalLayerNorm.run(hooks: parameterHooks, h) { finalLayerNorm($0) }
    }

    func logits(fromHidden h: Tensor) -> Tensor { embedOut.run(hooks: parameterHooks, h) { embedOut($0) } }

    /// Logits `[B, S, vocab]`.
    public func callAsFunction(_ ids: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        logits(fromHidden: hiddenStates(ids, attentionMask: attentionMask))
    }

    /// Logits `[B, n, vocab]` of `ids` `[B, n]` continuing the positions in `cache` (which then holds
    /// them too): the prompt once, then one token per call. Inference only (no graph is recorded).
    public func logits(appending ids: Tensor, cache: KeyValueCache) -> Tensor {
        precondition(ids.rank == 2, "GPTNeoX: ids must be [B, n], got \(ids.shape)")
        let offset = cache.length
        precondition(offset + ids.shape[1] <= configuration.maxPositionEmbeddings,
                     "GPTNeoX: \(offset + ids.shape[1]) positions exceed max_position_embeddings \(configuration.maxPositionEmbeddings)")
        precondition(sequenceParallelGroup == nil && parameterHooks == nil, "GPTNeoX: cached generation runs on whole, unpartitioned models")
        return withNoGrad {
            var h = embedIn(ids)
            let n = ids.shape[1]
            let relativeBias = relativeAttentionBias?.relative(queryLength: n, keyLength: offset + n, queryOffset: offset)
            for (index, layer) in layers.enumerated() {
                h = layer(h, appendingTo: &cache.entries[index], at: offset, relativeBias: relativeBias)
            }
            return embedOut(finalLayerNorm(h))
        }
    }

    /// Next-token cross-entropy. By default only real tokens are predicted (labels on padding are
    /// ignored); `includePadding` reproduces upstream GenSLM, whose labels are input_ids, pads included.
    public func loss(_ ids: Tensor, attentionMask: Tensor, includePadding: Bool = false) -> Tensor {
        crossEntropy(self(ids, attentionMask: attentionMask),
                     Self.nextTokenLabels(ids, attentionMask: attentionMask, includePadding: includePadding), ignoreIndex: -100)
    }

    /// Labels `[B, S]` for next-token prediction: the next token, −100 where it is padding (unless
    /// counted) and at the last position.
    static func nextTokenLabels(_ ids: Tensor, attentionMask: Tensor, includePadding: Bool) -> Tensor {
        let (b, s) = (ids.shape[0], ids.shape[1])
        let tokens = ids.scalars(as: Int64.self), real = attentionMask.scalars(as: Int64.self)
        let labels = (0..<(b * s)).map { index -> Int64 in
            guard index % s + 1 < s else { return -100 }
            return includePadding || real[index + 1] != 0 ? tokens[index + 1] : -100
        }
        return Tensor(labels, shape: [b, s])
    }

    /// The same loss as `loss(_:attentionMask:includePadding:)` with the sequence split over the
    /// sequence-parallel group: every rank passes the whole batch `[B, S]`, computes the positions of
    /// its shard (S padded to a multiple of P; padded positions are masked and unlabelled) and gets
    /// the whole loss; gradients hold this rank's share (summed over the group they are the full ones).
    public func sequenceParallelLoss(_ ids: Tensor, attentionMask: Tensor, includePadding: Bool = false) throws -> Tensor {
        guard let group = sequenceParallelGroup else { return loss(ids, attentionMask: attentionMask, includePadding: includePadding) }
        let (b, s) = (ids.shape[0], ids.shape[1])
        let sharding = SequenceSharding(length: s, ranks: group.size)
        let labelTensor = Self.nextTokenLabels(ids, attentionMask: attentionMask, includePadding: includePadding)
        precondition(s <= configuration.maxPositionEmbeddings,
                     "GPTNeoX: sequence of \(s) exceeds max_position_embeddings \(configuration.maxPositionEmbeddings)")
        let localIDs = sharding.shard(ids, axis: 1, rank: group.rank)
        let localLabels = sharding.shard(labelTensor, axis: 1, rank: group.rank, padding: -100)
        let paddedMask = s == sharding.paddedLength
            ? attentionMask : Tensor.concat([attentionMask, .zeros([b, sharding.paddedLength - s], dtype: attentionMask.dtype)], axis: 1)
        let keyMask = paddedMask != 0.0
        let logits = logits(fromHidden: finalHidden(localIDs, keyMask: keyMask))
        return try SequenceParallelCrossEntropy.loss(logits, labels: localLabels, group: group)
    }

    /// Our parameter path under Hugging Face's name (`gpt_neox.layers.0.attention.query_key_value.weight`).
    public static func huggingFaceName(_ path: String) -> String {
        let renames = [("inputLayernorm", "input_layernorm"), ("postAttentionLayernorm", "post_attention_layernorm"),
                       ("queryKeyValue", "query_key_value"), ("denseHTo4h", "mlp.dense_h_to_4h"), ("dense4hToH", "mlp.dense_4h_to_h"),
                       ("embedIn", "embed_in"), ("finalLayerNorm", "final_layer_norm"), ("embedOut", "embed_out"),
                       ("relativeAttentionBias.table", "relative_attention_bias.weight")]
        var name = path
        for (ours, theirs) in renames { name = name.replacingOccurrences(of: ours, with: theirs) }
        return name.hasPrefix("embed_out") ? name : "gpt_neox." + name
    }
}

extension GPTNeoXForCausalLM {
    /// Hugging Face's names for this model's parameters, in sorted order.
    public func huggingFaceStateDict() -> [(String, Tensor)] {
        stateDict().map { (GPTNeoXForCausalLM.huggingFaceName($0.0), $0.1) }.sorted { $0.0 < $1.0 }
    }

    /// Loads Hugging Face GPT-NeoX weights by name. Strict: every parameter must be present with
    /// its shape, and no unknown tensor may remain. Tolerates `model.` prefixes (Lightning) and
    /// names without `gpt_neox.`, and `lm_head.weight` (transformers 5) for `embed_out.weight`; ignores
    /// the attention.bias / masked_bias / rotary inv_freq buffers.
    public func loadHuggingFace(_ tensors: [(String, Tensor)]) throws {
        let ours = Dictionary(uniqueKeysWithValues: stateDict().map { (GPTNeoXForCausalLM.huggingFaceName($0.0), $0.0) })
        var mapped: [(String, Tensor)] = []
        var unexpected: [String] = []
        for (name, tensor) in tensors {
            var key = name
            while key.hasPrefix("model.") { key = String(key.dropFirst(6)) }
            if key.hasSuffix("attention.bias") || key.hasSuffix("attention.masked_bias") || key.hasSuffix("rotary_emb.inv_freq") { continue }
            if key == "lm_head.weight" { key = "embed_out.weight" }  // transformers 5's name for embed_out
            if ours[key] == nil, ours["gpt_neox." + key] != nil { key = "gpt_neox." + key }
            if let path = ours[key] { mapped.append((path, tensor)) } else { unexpected.append(name) }
        }
        do {
            try loadStateDict(mapped)
        } catch var error as StateDictError {
            error.missing = error.missing.map(GPTNeoXForCausalLM.huggingFaceName)
            error.unexpected = (error.unexpected + unexpected).sorted()
            throw error
        }
        if !unexpected.isEmpty { throw StateDictError(unexpected: unexpected.sorted()) }
    }
}
