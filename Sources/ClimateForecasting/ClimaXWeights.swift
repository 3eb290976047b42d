// ClimaX weights under upstream's names: a safetensors conversion of a Lightning checkpoint
// (`net.` prefix, per-variable `token_embeds.{i}.proj` or the grouped `token_embeds.proj_weights`,
// timm's qkv rows ordered (q, k, v) × heads × d_h) into the model, and back.
import Foundation
import NeuralNetworks
import TensorCore
import TensorIO

public enum ClimaXWeights {
    /// Upstream name (without `net.`) of each of our parameters; the patch embedding and qkv are
    /// converted separately.
    static func upstreamName(_ path: String) -> String {
        var name = path
        for (ours, theirs) in [("tokenEmbeds.varEmbed", "var_embed"), ("positions.posEmbed", "pos_embed"), ("positions.leadTimeEmbed", "lead_time_embed"),
                               ("varAgg.query", "var_query"), ("varAgg.inProjWeight", "var_agg.in_proj_weight"),
                               ("varAgg.inProjBias", "var_agg.in_proj_bias"), ("varAgg.outProj", "var_agg.out_proj"),
                               (".qkv.", ".attn.qkv."), (".proj.", ".attn.proj."), (".fc1.", ".mlp.fc1."), (".fc2.", ".mlp.fc2.")] {
            name = name.replacingOccurrences(of: ours, with: theirs)
        }
        // Our head [Linear] interleaves with GELUs upstream (nn.Sequential): layer k is head.{2k}.
        if name.hasPrefix("head.") {
            let parts = name.split(separator: ".")
            if parts.count == 3, let k = Int(parts[1]) { name = "head.\(2 * k).\(parts[2])" }
        }
        return name
    }

    /// (q, k, v) × heads × d_h rows → heads × (q, k, v) × d_h rows, and back with `inverse`.
    static func regroupQKV(_ t: Tensor, heads: Int, inverse: Bool = false) -> Tensor {
        let rows = t.shape[0], dh = rows / 3 / heads
        let rest = Array(t.shape.dropFirst())
        let from = inverse ? [heads, 3, dh] : [3, heads, dh]
        return t.reshaped(from + rest).permuted([1, 0, 2] + rest.indices.map { $0 + 3 }).contiguous().reshaped(t.shape)
    }

    /// What loading a checkpoint changed on the way in.
    public struct Loaded: Equatable, Sendable {
        /// The model's variables the checkpoint lacks: they keep their initialisation.
        public var freshVariables: [String] = []
        /// The patch grids (rows × columns) the position embedding was resized from and to, when the
        /// checkpoint's grid differs from the model's.
        public var resizedPositions: (from: [Int], to: [Int])?

        public static func == (a: Loaded, b: Loaded) -> Bool {
            a.freshVariables == b.freshVariables && a.resizedPositions?.from == b.resizedPositions?.from && a.resizedPositions?.to == b.resizedPositions?.to
        }

        /// One line for the run log, empty when nothing changed.
        public var summary: String {
            var parts: [String] = []
            if let (from, to) = resizedPositions {
                parts.append("position embedding interpolated (bicubic) from \(from[0])×\(from[1]) to \(to[0])×\(to[1]) patches")
            }
            if !freshVariables.isEmpty { parts.append("not in the checkpoint, initialised afresh: \(freshVariables.joined(separator: ", "))") }
            return parts.joined(separator: "; ")
        }
    }

    /// Loads a safetensors file of ClimaX weights. Keys may carry Lightning's `net.` prefix and
    /// the legacy `channel` spelling of `var` (renamed as upstream's loader does). Every missing
    /// key and every shape mismatch is reported at once, naming the file. Weights from another
    /// grid (pretrained at 5.625°, fine-tuned at 1.40625°) get their position embedding resized
    /// bicubically as upstream's `interpolate_pos_embed` does; the rest does not depend on the grid.
    ///
    /// A checkpoint of other variables is matched by name: one with as many variables as the model
    /// is read in the model's order (as upstream does), one of 48 in ClimaX's `default_vars` order
    /// (the released checkpoints'). The patch embedding, variable embedding and the head's output
    /// rows of every model variable the checkpoint has are taken from it; variables it lacks keep
    /// their initialisation and are returned (upstream drops all three tensors when shapes differ).
    @discardableResult
    public static func load(_ model: ClimaX, from path: String) throws -> Loaded {
        try load(model, tensors: try Safetensors.read(from: path).0, variables: nil, file: path)
    }

    /// Loads upstream-named tensors (`file` names their source in errors). `variables` are the
    /// source model's default_vars when known (a SciZoo checkpoint's); nil: the same count as the
    /// model's are taken in its order, 48 in ClimaX's `default_vars` order.
    @discardableResult
    public static func load(_ model: ClimaX, tensors: [(String, Tensor)], variables: [String]?, file path: String) throws -> Loaded {
        var byName: [String: Tensor] = [:]
        for (key, value) in tensors {
            var name = key.hasPrefix("net.") ? String(key.dropFirst(4)) : key
            name = name.replacingOccurrences(of: "channel", with: "var")
            byName[name] = value
        }
        var loaded = Loaded()
        loaded.freshVariables = try remapVariables(model, &byName, variables: variables, file: path)
        loaded.resizedPositions = try resizePositions(model, &byName, file: path)
        try load(model, byName: byName, file: path)
        return loaded
    }

    /// Resizes a checkpoint's `pos_embed` `[1, L', D]` to the model's patch grid when L' differs;
    /// the checkpoint's grid is the one of L' positions with the model's aspect ratio.
    static func resizePositions(_ model: ClimaX, _ byName: inout [String: Tensor], file: String) throws -> (from: [Int], to: [Int])? {
        let c = model.configuration
        let target = (rows: c.imageSize[0] / c.patchSize, columns: c.imageSize[1] / c.patchSize)
        guard let stored = byName["pos_embed"], stored.rank == 3, stored.shape[0] == 1, stored.shape[2] == c.embedDim,
              stored.shape[1] != target.rows * target.columns else { return nil }
        guard let old = PositionEmbeddingResize.grid(tokens: stored.shape[1], like: target) else {
            throw FileError(file: file, message: "pos_embed has \(stored.shape[1]) positions, which is no patch grid of the model's "
                                   + "\(target.rows)×\(target.columns) shape (rows:columns \(target.rows):\(target.columns)); cannot interpolate it")
        }
        byName["pos_embed"] = PositionEmbeddingResize.bicubic(stored, from: old, to: target)
        return ([old.rows, old.columns], [target.rows, target.columns])
    }

    /// Rewrites the per-variable tensors of a checkpoint of other variables into the model's
    /// variable order; returns the model's variables the checkpoint lacks.
    static func remapVariables(_ model: ClimaX, _ byName: inout [String: Tensor], variables: [String]?, file: String) throws -> [String] {
        let c = model.configuration
        guard let stored = byName["var_embed"], stored.rank == 3 else { return [] }
        let count = stored.shape[1]
        if let variables, variables.count != count {
            throw FileError(file: file, message: "var_embed holds \(count) variables, the checkpoint names \(variables.count)")
        }
        guard variables.map({ $0 != c.defaultVariables }) ?? (count != c.defaultVariables.count) else { return [] }
        guard variables != nil || count == ClimateVariables.defaultVariables.count else {
            throw FileError(file: file, message: "the checkpoint has \(count) variables and the model \(c.defaultVariables.count); "
                                   + "only ClimaX's 48 default_vars can be matched by name")
        }
        let source = variables ?? ClimateVariables.defaultVariables
        let rows = c.defaultVariables.map { source.firstIndex(of: $0) }
        let p2 = c.patchSize * c.patchSize
        let v = c.defaultVariables.count
        // Slices of `tensor` along `axis` in the model's variable order; the model's own where the checkpoint has none.
        func pick(_ tensor: Tensor, axis: Int, own: Tensor) -> Tensor {
            Tensor.concat((0..<v).map { j in
                rows[j].map { tensor.sliced(axis: axis, $0, $0 + 1) } ?? own.sliced(axis: axis, j, j + 1).detached()
            }, axis: axis).contiguous()
        }
        byName["var_embed"] = pick(stored, axis: 1, own: model.tokenEmbeds.varEmbed.value)
        // Per-variable patch embeddings: the grouped form or one key per variable.
        for (grouped, suffix, own) in [("token_embeds.proj_weights", "weight", model.tokenEmbeds.projWeights.value),
                                        ("token_embeds.proj_biases", "bias", model.tokenEmbeds.projBiases.value)] {
            if let whole = byName.removeValue(forKey: grouped) {
                byName[grouped] = pick(whole, axis: 0, own: own)
                continue
            }
            let perVariable = (0..<count).map { byName.removeValue(forKey: "token_embeds.\($0).proj.\(suffix)") }
            for j in 0..<v {
                // A missing key of the checkpoint stays missing (and is reported by `load`).
                byName["token_embeds.\(j).proj.\(suffix)"] = rows[j].map { perVariable[$0] }
                    ?? own.sliced(axis: 0, j, j + 1).squeezed(axis: 0).detached().contiguous()
            }
        }
        // The head's last layer: output channel (pixel · V + variable).
        guard let ownHead = model.head.last else { return c.defaultVariables.indices.filter { rows[$0] == nil }.map { c.defaultVariables[$0] } }
        let last = "head.\(2 * c.decoderDepth)"
        for (suffix, own) in [("weight", ownHead.weight.value), ("bias", ownHead.bias!.value)] {
            guard let value = byName["\(last).\(suffix)"], value.shape[0] == count * p2 else { continue }
            let pieces = (0..<p2).flatMap { pixel in
                (0..<v).map { j -> Tensor in
                    if let i = rows[j] { return value.sliced(axis: 0, pixel * count + i, pixel * count + i + 1) }
                    return own.sliced(axis: 0, pixel * v + j, pixel * v + j + 1).detached()
                }
            }
            byName["\(last).\(suffix)"] = Tensor.concat(pieces, axis: 0).contiguous()
        }
        return c.defaultVariables.indices.filter { rows[$0] == nil }.map { c.defaultVariables[$0] }
    }

    static func load(_ model: ClimaX, byName: [String: Tensor], file: String) throws {
        let c = model.configuration
        var problems: [String] = []
        var state: [(String, Tensor)] = []
        for (path, parameter) in model.namedParameters() {
            if path == "tokenEmbeds.projWeights" || path == "tokenEmbeds.projBiases" {
                let isWeight = path.hasSuffix("Weights")
                if let grouped = byName[isWeight ? "token_embeds.proj_weights" : "token_embeds.proj_biases"] {
                    if grouped.shape == parameter.shape { state.append((path, grouped)) } else {
                        problems.append("token_embeds.proj_\(isWeight ? "weights" : "biases") has shape \(grouped.shape), expected \(parameter.shape)")
                    }
                    continue
                }
                var rows: [Tensor] = []
                for i in 0..<c.defaultVariables.count {
                    let key = "token_embeds.\(i).proj.\(isWeight ? "weight" : "bias")"
                    let expected = Array(parameter.shape.dropFirst())
                    guard let value = byName[key] else { problems.append("missing \(key)"); continue }
                    guard value.shape == expected else { problems.append("\(key) has shape \(value.shape), expected \(expected)"); continue }
                    rows.append(value.unsqueezed(axis: 0))
                }
                if rows.count == c.defaultVariables.count { state.append((path, Tensor.concat(rows, axis: 0))) }
                continue
            }
            let key = upstreamName(path)
            guard var value = byName[key] else { problems.append("missing \(key)"); continue }
            guard value.shape == parameter.shape else { problems.append("\(key) has shape \(value.shape), expected \(parameter.shape)"); continue }
            if key.hasSuffix("attn.qkv.weight") || key.hasSuffix("attn.qkv.bias") { value = regroupQKV(value, heads: c.numHeads) }
            state.append((path, value))
        }
        guard problems.isEmpty else {
            throw FileError(file: file, message: "not ClimaX weights for this configuration (embed_dim \(c.embedDim), depth \(c.depth), "
                                   + "\(c.defaultVariables.count) default_vars): " + problems.joined(separator: "; "))
        }
        try model.loadStateDict(state)
    }

    /// Writes the model under upstream's names with the `net.` prefix and per-variable patch
    /// embeddings (`token_embeds.{i}.proj.weight`), as a converted Lightning checkpoint has them.
    public static func save(_ model: ClimaX, to path: String) throws {
        try Safetensors.write(upstreamNamed(model) { $0.value.detached() }.map { ("net." + $0.0, $0.1) }, to: path)
    }

    /// One tensor per upstream parameter name (without `net.`), in upstream's layout, from what
    /// `value` gives for each of the model's parameters: its weights, or its gradient.
    public static func upstreamNamed(_ model: ClimaX, _ value: (Parameter) -> Tensor) -> [(String, Tensor)] {
        let c = model.configuration
        var tensors: [(String, Tensor)] = []
        for (path, parameter) in model.namedParameters() {
            let tensor = value(parameter)
            if path == "tokenEmbeds.projWeights" || path == "tokenEmbeds.projBiases" {
                let suffix = path.hasSuffix("Weights") ? "weight" : "bias"
                for i in 0..<c.defaultVariables.count {
                    tensors.append(("token_embeds.\(i).proj.\(suffix)", tensor.sliced(axis: 0, i, i + 1).squeezed(axis: 0).contiguous()))
                }
                continue
            }
            let key = upstreamName(path)
            let converted = key.hasSuffix("attn.qkv.weight") || key.hasSuffix("attn.qkv.bias") ? regroupQKV(tensor, heads: c.numHeads, inverse: true) : tensor
            tensors.append((key, converted.contiguous()))
        }
        return tensors
    }
}

extension ClimaXWeights {
    /// Our name of each of ClimateBench's own tensors (the rest are ClimaX's, under `backbone.`).
    static let climateBenchNames = [("time_pos_embed", "timePosEmbed"), ("time_query", "timeAgg.query"),
                                    ("time_agg.in_proj_weight", "timeAgg.inProjWeight"), ("time_agg.in_proj_bias", "timeAgg.inProjBias"),
                                    ("time_agg.out_proj.weight", "timeAgg.outProj.weight"), ("time_agg.out_proj.bias", "timeAgg.outProj.bias"),
                                    ("head.weight", "head.weight"), ("head.bias", "head.bias")]

    /// Loads upstream-named ClimaXClimateBench tensors (`net.` prefix optional): the time embedding,
    /// time aggregation and head by name, the rest as ClimaX's encoder. Every missing tensor and
    /// shape mismatch is reported at once, naming `file`.
    public static func load(_ model: ClimaXClimateBench, tensors: [(String, Tensor)], file: String) throws {
        var encoder: [(String, Tensor)] = [], own: [String: Tensor] = [:]
        let ownNames = Dictionary(uniqueKeysWithValues: climateBenchNames)
        for (key, value) in tensors {
            let name = key.hasPrefix("net.") ? String(key.dropFirst(4)) : key
            if ownNames[name] != nil { own[name] = value } else { encoder.append((name, value)) }
        }
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        var problems: [String] = []
        var state: [(String, Tensor)] = []
        for (theirs, ours) in climateBenchNames {
            guard let value = own[theirs] else { problems.append("missing \(theirs)"); continue }
            let expected = parameters[ours]!.shape
            guard value.shape == expected else { problems.append("\(theirs) has shape \(value.shape), expected \(expected)"); continue }
            state.append((ours, value))
        }
        guard problems.isEmpty else {
            throw FileError(file: file, message: "not ClimaXClimateBench weights for this configuration: " + problems.joined(separator: "; "))
        }
        try load(model.backbone, tensors: encoder, variables: nil, file: file)
        for (path, value) in state { parameters[path]!.value.assign(value.cast(to: parameters[path]!.value.dtype)) }
    }

    /// One tensor per upstream parameter name, in upstream's layout, from what `value` gives for each
    /// of the model's parameters (its weights, or its gradient).
    public static func upstreamNamed(_ model: ClimaXClimateBench, _ value: (Parameter) -> Tensor) -> [(String, Tensor)] {
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        return upstreamNamed(model.backbone, value) + climateBenchNames.map { ($0.0, value(parameters[$0.1]!)) }
    }
}
