// schnetpack SchNet and PaiNN weights by their own names: a NeuralNetworkPotential's state_dict
// saved with `safetensors.torch.save_file` (`representation.…`, `output_modules.0.outnet.…`).
// Loading is strict: every missing, extra or mis-shaped key is listed in one error naming the
// file, and the fixed buffers (cutoff, Gaussian centres and widths) must be the ones the recipe's
// cutoff and n_rbf give, so a mismatched architecture never loads silently.
import Foundation
import Graphs
import TensorCore
import TensorIO

public enum SchnetpackWeights {
    /// Loads `path` into `model` (a SchNet or a PaiNN built with the checkpoint's sizes).
    public static func load(_ path: String, into model: any AtomisticModel) throws {
        let (tensors, _) = try Safetensors.read(from: path)
        var stored = Dictionary(tensors, uniquingKeysWith: { first, _ in first })
        let rbf: Int, cutoff = model.cutoff
        if let schnet = model as? SchNet { rbf = schnet.configuration.nRBF } else if let painn = model as? PaiNN { rbf = painn.configuration.nRBF } else {
            throw FileError(file: path, message: "schnetpack weights load into SchNet or PaiNN only")
        }
        try checkBuffers(&stored, rbf: rbf, cutoff: cutoff, file: path)
        var state: [(String, Tensor)] = [], missing: [String] = []
        for (name, parameter) in model.namedParameters() {
            let key = schnetpackName(of: name, painn: model is PaiNN)
            guard let value = stored.removeValue(forKey: key) else { missing.append(key); continue }
            state.append((name, value.cast(to: parameter.value.dtype)))
        }
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing \(missing.sorted().joined(separator: ", "))") }
        if !stored.isEmpty { problems.append("unexpected \(stored.keys.sorted().joined(separator: ", "))") }
        guard problems.isEmpty else {
            throw FileError(file: path, message: "does not match a schnetpack \(model is PaiNN ? "PaiNN" : "SchNet") of the recipe's sizes: "
                            + problems.joined(separator: "; "))
        }
        do { try model.loadStateDict(state) } catch { throw FileError(file: path, message: "\(error)") }
    }

    /// Our parameter path → schnetpack's state_dict key.
    static func schnetpackName(of name: String, painn: Bool) -> String {
        if name.hasPrefix("output.") { return "output_modules.0." + name.dropFirst("output.".count) }
        var key = name
        if painn {
            key = key.replacingOccurrences(of: "filterNetwork", with: "filter_net")
            key = key.replacingOccurrences(of: "channelMix", with: "mu_channel_mix")
            key = key.hasPrefix("interactions.") ? key.replacingOccurrences(of: ".context.", with: ".interatomic_context_net.")
                : key.replacingOccurrences(of: ".context.", with: ".intraatomic_context_net.")
        } else {
            key = key.replacingOccurrences(of: "filterNetwork", with: "filter_network")
        }
        if key == "embedding" { key = "embedding.weight" }
        return "representation." + key
    }

    /// The buffers schnetpack stores that SchNet and PaiNN here compute: they must match.
    static func checkBuffers(_ stored: inout [String: Tensor], rbf: Int, cutoff: Double, file: String) throws {
        let centres = RadialBasis.gaussian(count: rbf, cutoff: cutoff).gaussianCentres
        let width = rbf > 1 ? abs(centres[1] - centres[0]) : 1
        let expected: [(String, [Double])] = [("representation.cutoff_fn.cutoff", [cutoff]), ("representation.radial_basis.offsets", centres),
                                              ("representation.radial_basis.widths", Array(repeating: width, count: rbf))]
        for (key, values) in expected {
            guard let tensor = stored.removeValue(forKey: key) else { continue }
            let found = tensor.cast(to: .float64).doubles
            guard found.count == values.count, zip(found, values).allSatisfy({ abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) }) else {
                throw FileError(file: file, key: "tensor '\(key)'", message: "holds \(found.prefix(4).map { String(format: "%.4g", $0) }.joined(separator: ", "))"
                                + "\(found.count > 4 ? ", …" : "") (\(found.count) values); the recipe's cutoff \(cutoff) Å and n_rbf \(rbf) give "
                                + "\(values.prefix(4).map { String(format: "%.4g", $0) }.joined(separator: ", "))\(values.count > 4 ? ", …" : "") (\(values.count))")
            }
        }
    }
}
