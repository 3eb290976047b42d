// AI2BMD ViSNet weights by their own names: a ViSNet's state_dict (the `model.` prefix of a
// Lightning checkpoint removed, as AI2BMD's load_model does) saved with
// `safetensors.torch.save_file`. Strict: every missing, extra or mis-shaped key is listed in one
// error naming the file; the fixed buffers (ExpNorm means and betas, the vector norms' weights,
// which vecnorm_type none leaves at one) must be what the configuration gives.
import Foundation
import Graphs
import TensorCore
import TensorIO

public enum ViSNetWeights {
    public static func load(_ path: String, into model: ViSNet) throws {
        let (tensors, _) = try Safetensors.read(from: path)
        var stored = Dictionary(tensors.map { ($0.0.hasPrefix("model.") ? String($0.0.dropFirst(6)) : $0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let c = model.configuration
        let start = exp(-c.cutoff)
        var fixed: [(String, [Double])] = [
            ("representation_model.distance_expansion.means", (0..<c.numRBF).map { start + (1 - start) * Double($0) / Double(Swift.max(1, c.numRBF - 1)) }),
            ("representation_model.distance_expansion.betas", Array(repeating: pow(2 / Double(c.numRBF) * (1 - start), -2), count: c.numRBF)),
            ("representation_model.vec_out_norm.weight", Array(repeating: 1, count: c.hiddenChannels))]
        fixed += (0..<c.numLayers).map { ("representation_model.vis_mp_layers.\($0).vec_layernorm.weight", Array(repeating: 1, count: c.hiddenChannels)) }
        for (key, values) in fixed {
            guard let tensor = stored.removeValue(forKey: key) else { continue }
            let found = tensor.cast(to: .float64).doubles
            guard found.count == values.count, zip(found, values).allSatisfy({ abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) }) else {
                throw FileError(file: path, key: "tensor '\(key)'", message: "differs from what the configuration gives (cutoff \(c.cutoff) Å, num_rbf \(c.numRBF), "
                                + "vecnorm_type none): a ViSNet of other settings")
            }
        }
        if let std = stored.removeValue(forKey: "std") { model.energyScale.stddev = std.cast(to: .float64).doubles[0] }
        if let mean = stored.removeValue(forKey: "mean"), mean.cast(to: .float64).doubles[0] != 0 {
            throw FileError(file: path, key: "tensor 'mean'", message: "is a per-molecule offset (\(mean.cast(to: .float64).doubles[0])); SciZoo standardises per atom, so fold it into the reference energies first")
        }
        var state: [(String, Tensor)] = [], missing: [String] = []
        for (name, parameter) in model.namedParameters() {
            let key = upstreamName(of: name)
            guard let value = stored.removeValue(forKey: key) else { missing.append(key); continue }
            state.append((name, value.cast(to: parameter.value.dtype)))
        }
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing \(missing.sorted().joined(separator: ", "))") }
        if !stored.isEmpty { problems.append("unexpected \(stored.keys.sorted().joined(separator: ", "))") }
        guard problems.isEmpty else { throw FileError(file: path, message: "does not match a ViSNet of the recipe's sizes: " + problems.joined(separator: "; ")) }
        do { try model.loadStateDict(state) } catch { throw FileError(file: path, message: "\(error)") }
    }

    /// Our parameter path → AI2BMD's state_dict key.
    static func upstreamName(of name: String) -> String {
        var parts = name.split(separator: ".").map(String.init)
        func snake(_ s: String) -> String {
            var out = ""
            for ch in s { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
            return out
        }
        switch parts[0] {
        case "outputNetwork":
            parts[0] = "output_model.output_network"
            if parts.count > 3, parts[2] == "updateNet" { parts[3] = parts[3] == "1" ? "2" : parts[3] }
            return parts.map(snake).joined(separator: ".")
        case "neighborEmbedding": return "representation_model.neighbor_embedding.embedding.weight"
        case "embedding": return "representation_model.embedding.weight"
        case "distanceProj", "combine": parts[0] = "neighbor_embedding." + snake(parts[0])
        case "edgeProj": parts[0] = "edge_embedding.edge_proj"
        case "layers": parts[0] = "vis_mp_layers"
        default: break
        }
        return "representation_model." + parts.map(snake).joined(separator: ".")
    }
}
