import Foundation
import Testing
import TestSupport
@testable import ProteinFolding
import TensorCore
import TensorIO

/// Synthetic AlphaFold parameter files: the release's key names and shapes, random values.
@Suite("AlphaFold .npz weight import")
struct WeightImportTests {
    static let root = "alphafold/alphafold_iteration/"

    /// model_1_ptm's widths with 2 Evoformer and 2 extra-MSA blocks (stacked axes of 2).
    static func smallModel(seed: UInt64) throws -> AlphaFold {
        var preset = try AlphaFoldPreset("model_1_ptm")
        (preset.evoformerBlocks, preset.extraBlocks) = (2, 2)
        var generator = RandomGenerator(seed: seed)
        let model = AlphaFold(preset: preset, generator: &generator)
        model.redrawZeroParameters(std: 0.02, seed: seed + 1)
        return model
    }

    static func temporaryFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-weights-\(getpid())-\(name).npz").path
    }

    @Test("the written file has the release's names and shapes, stacked on axis 0; reading it back restores every parameter")
    func roundTrip() throws {
        let source = try Self.smallModel(seed: 1), target = try Self.smallModel(seed: 7)
        let path = Self.temporaryFile("round-trip")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AlphaFoldWeights.save(source, to: path)
        let archive = try NumpyArchive(contentsOf: path)
        // Shapes as the brief lists them (openfold-genslm.md A3/A4), with 2 stacked layers here.
        let evo = Self.root + "evoformer/evoformer_iteration/", extra = Self.root + "evoformer/extra_msa_stack/"
        let expected: [(String, [Int])] = [
            (evo + "msa_row_attention_with_pair_bias/attention//query_w", [2, 256, 8, 32]),
            (evo + "msa_row_attention_with_pair_bias//feat_2d_weights", [2, 128, 8]),
            (evo + "msa_column_attention/attention//output_w", [2, 8, 32, 256]),
            (evo + "msa_column_attention/attention//gating_b", [2, 8, 32]),
            (evo + "outer_product_mean//output_w", [2, 32, 32, 128]),
            (evo + "triangle_multiplication_incoming/left_projection//weights", [2, 128, 128]),
            (evo + "triangle_attention_ending_node//feat_2d_weights", [2, 128, 4]),
            (evo + "pair_transition/transition1//weights", [2, 128, 512]),
            (extra + "msa_column_global_attention/attention//key_w", [2, 64, 8]),
            (extra + "msa_column_global_attention/attention//query_w", [2, 64, 8, 8]),
            (Self.root + "evoformer/preprocess_msa//weights", [49, 256]),
            (Self.root + "evoformer/pair_activiations//weights", [65, 128]),
            (Self.root + "evoformer/prev_pos_linear//weights", [15, 128]),
            (Self.root + "structure_module/fold_iteration/invariant_point_attention//trainable_point_weights", [12]),
            (Self.root + "structure_module/fold_iteration/invariant_point_attention/output_projection//weights", [2112, 384]),
            (Self.root + "structure_module/fold_iteration/rigid_sidechain/resblock2_1//weights", [128, 128]),
            (Self.root + "predicted_lddt_head/logits//weights", [128, 50]),
            (Self.root + "predicted_aligned_error_head/logits//weights", [128, 64]),
            (Self.root + "distogram_head/half_logits//weights", [128, 64]),
            (Self.root + "masked_msa_head/logits//weights", [256, 23]),
            (Self.root + "experimentally_resolved_head/logits//weights", [384, 37]),
            // The template stack (model_1/2): its 2 pair blocks stacked as `__layer_stack_no_state`.
            (Self.root + "evoformer/template_embedding/single_template_embedding/embedding2d//weights", [88, 64]),
            (Self.root + "evoformer/template_embedding/single_template_embedding/template_pair_stack/__layer_stack_no_state/"
                + "triangle_attention_starting_node/attention//query_w", [2, 64, 4, 16]),
            (Self.root + "evoformer/template_embedding/single_template_embedding/template_pair_stack/__layer_stack_no_state/"
                + "pair_transition/transition1//weights", [2, 64, 128]),
            (Self.root + "evoformer/template_embedding/attention//key_w", [64, 4, 16]),
            (Self.root + "evoformer/template_embedding/attention//output_w", [4, 16, 128]),
            (Self.root + "evoformer/template_single_embedding//weights", [57, 256]),
            (Self.root + "evoformer/template_projection//weights", [256, 256]),
        ]
        for (key, shape) in expected {
            #expect(try archive.array(key).shape == shape, "\(key)")
            #expect(try archive.array(key).descr == "<f4")
        }
        #expect(archive.names.allSatisfy { $0.hasPrefix(Self.root) && $0.contains("//") })

        try AlphaFoldWeights.load(path, into: target)
        let loaded = Dictionary(uniqueKeysWithValues: target.namedParameters().map { ($0.0, $0.1.value) })
        var checked = 0
        for (name, parameter) in source.namedParameters() {
            #expect(loaded[name]!.doubles == parameter.value.doubles, "\(name)")
            checked += 1
        }
        #expect(checked == source.parameters().count && checked > 300)
        // Every parameter of the model is named by exactly one file array (or one layer of one).
        #expect(Set(AlphaFoldWeights.weights(for: source).map { ObjectIdentifier($0.parameter) }).count == source.parameters().count)
    }

    @Test("JAX layouts: q/k/v [c, H, c_h] and output_w [H, c_h, c] flatten and transpose; layer i of a stack is block i")
    func layouts() throws {
        let model = try Self.smallModel(seed: 3)
        let path = Self.temporaryFile("layouts")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AlphaFoldWeights.save(model, to: path)
        let archive = try NumpyArchive(contentsOf: path)
        let evo = Self.root + "evoformer/evoformer_iteration/msa_row_attention_with_pair_bias/"
        let query = try archive.array(evo + "attention//query_w").tensor()    // [2, 256, 8, 32]
        let output = try archive.array(evo + "attention//output_w").tensor()  // [2, 8, 32, 256]
        let mha = model.evoformer[1].msaAttentionRow.mha
        // Ours: y = x Wᵀ with W [H·c_h, c]; the file's y[h, d] = Σ_c x[c] w[c, h, d].
        let (q, w) = (query.doubles, mha.linearQ.weight.value.doubles)
        for (c, h, d) in [(0, 0, 0), (5, 3, 17), (255, 7, 31)] {
            #expect(q[((1 * 256 + c) * 8 + h) * 32 + d] == w[(h * 32 + d) * 256 + c])
        }
        let (o, wo) = (output.doubles, mha.linearO.weight.value.doubles)
        for (h, d, c) in [(0, 0, 0), (2, 9, 100), (7, 31, 255)] {
            #expect(o[((1 * 8 + h) * 32 + d) * 256 + c] == wo[c * 256 + h * 32 + d])
        }
    }

    @Test("the incoming triangle multiplication, loaded from left/right arrays, computes the release's Σ_k left_kj · right_ki")
    func incomingSwap() throws {
        let model = try Self.smallModel(seed: 5)
        let path = Self.temporaryFile("incoming")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AlphaFoldWeights.save(model, to: path)
        let archive = try NumpyArchive(contentsOf: path)
        let prefix = Self.root + "evoformer/evoformer_iteration/triangle_multiplication_incoming/"
        func array(_ name: String) throws -> [Double] {
            let stacked = try archive.array(prefix + name).tensor()
            return stacked.sliced(axis: 0, 0, 1).doubles  // layer 0
        }
        let n = 3, c = 128
        var generator = RandomGenerator(seed: 6)
        let z = generator.normal([1, n, n, c])
        let ours = withNoGrad { model.evoformer[0].triangleMultiplicationIncoming(z, mask: Tensor.ones([1, n, n])) }.doubles
        // The release's incoming update, written out from the file arrays (float64 throughout).
        func layerNorm(_ x: [Double], _ scale: [Double], _ offset: [Double]) -> [Double] {
            let mean = x.reduce(0, +) / Double(x.count)
            let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)
            return x.indices.map { (x[$0] - mean) / (variance + 1e-5).squareRoot() * scale[$0] + offset[$0] }
        }
        func linear(_ x: [Double], _ name: String) throws -> [Double] {
            let (w, b) = (try array(name + "//weights"), try array(name + "//bias"))
            let outputs = b.count
            return (0..<outputs).map { o in x.indices.reduce(b[o]) { $0 + x[$1] * w[$1 * outputs + o] } }
        }
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let zs = z.doubles
        let (lnScale, lnOffset) = (try array("layer_norm_input//scale"), try array("layer_norm_input//offset"))
        var left = [[Double]](), right = [[Double]](), gate = [[Double]]()
        for p in 0..<(n * n) {
            let x = layerNorm(Array(zs[(p * c)..<((p + 1) * c)]), lnScale, lnOffset)
            let (lp, lg) = (try linear(x, "left_projection"), try linear(x, "left_gate"))
            let (rp, rg) = (try linear(x, "right_projection"), try linear(x, "right_gate"))
            left.append(lp.indices.map { lp[$0] * sigmoid(lg[$0]) })
            right.append(rp.indices.map { rp[$0] * sigmoid(rg[$0]) })
            gate.append(try linear(x, "gating_linear").map(sigmoid))
        }
        let (centreScale, centreOffset) = (try array("center_layer_norm//scale"), try array("center_layer_norm//offset"))
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                let product = (0..<c).map { ch in (0..<n).reduce(0.0) { $0 + left[$1 * n + j][ch] * right[$1 * n + i][ch] } }
                let out = try linear(layerNorm(product, centreScale, centreOffset), "output_projection")
                for ch in 0..<c { worst = max(worst, abs(out[ch] * gate[i * n + j][ch] - ours[(i * n + j) * c + ch])) }
            }
        }
        #expect(worst < 1e-4, "largest difference \(worst)")
    }

    @Test("missing arrays are listed together; extra arrays are allowed; a wrong shape names the key")
    func strictness() throws {
        let model = try Self.smallModel(seed: 9)
        let path = Self.temporaryFile("strict")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AlphaFoldWeights.save(model, to: path)
        let archive = try NumpyArchive(contentsOf: path)
        var arrays = try archive.names.map { ($0, try archive.array($0)) }
        let dropped = [Self.root + "structure_module/fold_iteration/affine_update//bias",
                       Self.root + "evoformer/evoformer_iteration/outer_product_mean//output_w"]
        arrays.removeAll { dropped.contains($0.0) }
        arrays.append((Self.root + "evoformer/template_embedding/single_template_embedding/embedding2d//weights", NumpyArray(Tensor.zeros([88, 64]))))
        try NumpyArchive.write(arrays, to: path)
        let error = #expect(throws: FileError.self) { try AlphaFoldWeights.load(path, into: model) }
        #expect(dropped.allSatisfy { error?.description.contains($0) == true })
        #expect(error?.description.hasPrefix(path) == true && error?.description.contains("2 of the") == true)

        // Put them back (the extra head stays): it loads.
        arrays += try dropped.map { ($0, try archive.array($0)) }
        try NumpyArchive.write(arrays, to: path)
        try AlphaFoldWeights.load(path, into: model)

        // A preset mismatch: the stacked axis says 3 blocks where the model has 2.
        let key = Self.root + "evoformer/evoformer_iteration/pair_transition/transition2//bias"
        arrays.removeAll { $0.0 == key }
        arrays.append((key, NumpyArray(Tensor.zeros([3, 128]))))
        try NumpyArchive.write(arrays, to: path)
        let shapeError = #expect(throws: FileError.self) { try AlphaFoldWeights.load(path, into: model) }
        #expect(shapeError?.description.contains("\(key) has shape [3, 128], expected [2, 128]") == true)
    }
}
