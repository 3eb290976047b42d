import Foundation
import Testing
import TestSupport
@testable import ProteinFolding
import NeuralNetworks
import TensorCore
import TensorIO

/// AlphaFold against upstream OpenFold's own modules (aqlaboratory/openfold), run by
/// Scripts/openfold/make_upstream_parity_fixture.py on the weights and features made here: each
/// Evoformer sub-block's update, the extra-MSA block, invariant point attention, the structure
/// module, the template stack and the whole model (with a template) over three recycling
/// passes. Upstream ran in float64; ours runs in float32 and must agree within 1e-4 relative
/// (max |a − b| / max |b|), atoms within 0.01 Å.
@Suite("OpenFold against upstream's modules")
struct OpenFoldUpstreamParityTests {
    static let fixture = Fixtures.packageRoot.appendingPathComponent("Tests/ProteinFoldingTests/Fixtures/openfold_upstream_parity.h5").path
    static let limit = 1e-4

    /// model_1_ptm widths with 2 Evoformer blocks and 1 extra-MSA block: seeded initial weights with
    /// N(0, 0.02²) noise on every array (so upstream's zero-initialised outputs are not zero).
    static func model() throws -> AlphaFold {
        var preset = try AlphaFoldPreset("model_1_ptm")
        (preset.evoformerBlocks, preset.extraBlocks) = (2, 1)
        var generator = RandomGenerator(seed: 11)
        let model = AlphaFold(preset: preset, generator: &generator)
        var noise = RandomGenerator(seed: 12)
        var seen = Set<ObjectIdentifier>()
        for weight in AlphaFoldWeights.weights(for: model) where seen.insert(ObjectIdentifier(weight.parameter)).inserted {
            let parameter = weight.parameter
            parameter.value = (parameter.value + noise.normal(parameter.value.shape, std: 0.02)).contiguous()
        }
        return model
    }

    /// The 12 residues of short_query the model sees: 50–61, where 2Q2K_A's template covers 55–61.
    static let crop = 50..<62

    /// One pass's features of the crop: 6 cluster centres, 10 extra rows.
    static func features() throws -> PassFeatures {
        let raw = try InputTransformTests.shortQuery().cropped(crop)
        return InputTransforms.features(raw, options: InputTransformOptions(maxClusters: 6, maxExtra: 10), seed: 5, pass: 0)
    }

    /// short_query's template search on the fixture's one mmCIF (2q2k.cif), whole and cropped.
    static func templateSearch() throws -> TemplateFeatures {
        let query = try InputTransformTests.shortQuery().sequence
        let hits = try AlignmentParsers.hhr(at: Fixtures.shared("openfold/short_query/alignments/pdb70_hits.hhr").path)
        return try TemplateSearch(folder: Fixtures.shared("openfold/2q2k_A/ground_truth").path, maxDate: "2099-12-31")
            .features(query: query, hits: hits).features
    }

    static func templates() throws -> TemplateFeatures { try templateSearch().cropped(crop) }

    static let passes = 3

    /// The feature-pipeline comparison: short_query whole, 64 centres, 128 extra rows, masking off
    /// (its draws are torch's); upstream replays our `sample_msa` and `crop_extra_msa` draws.
    static let transformOptions: InputTransformOptions = {
        var options = InputTransformOptions(maxClusters: 64, maxExtra: 128)
        options.replaceFraction = 0
        return options
    }()

    /// FNV-1a over every weight's float32 bits, in the file's order.
    static func digest(_ model: AlphaFold) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var seen = Set<ObjectIdentifier>()
        for weight in AlphaFoldWeights.weights(for: model) where seen.insert(ObjectIdentifier(weight.parameter)).inserted {
            for value in weight.parameter.value.scalars(as: Float.self) {
                var bits = value.bitPattern
                for _ in 0..<4 {
                    hash = (hash ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
                    bits >>= 8
                }
            }
        }
        return String(hash, radix: 16)
    }

    /// max |a − b| / max |b|.
    static func relative(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.doubles, y = b.doubles
        precondition(x.count == y.count, "\(a.shape) vs \(b.shape)")
        let scale = Swift.max(y.map(abs).max() ?? 0, 1e-30)
        return zip(x, y).map { abs($0 - $1) }.max()! / scale
    }

    static func stored(_ group: HDF5Group, _ name: String) throws -> Tensor { try group.dataset(name).readTensor().cast(to: .float32) }

    @Test("the model and features are the ones the fixture was made from (and are written for the generator when asked)")
    func weightsAreTheFixtures() throws {
        let model = try Self.model(), features = try Self.features()
        if let folder = ProcessInfo.processInfo.environment["SCIZOO_OPENFOLD_PARITY_INPUTS"] {
            try AlphaFoldWeights.save(model, to: folder + "/weights.npz")
            let file = try HDF5File(path: folder + "/features.h5", mode: .truncate)
            let root = try file.root
            try root.write("target_feat", tensor: features.targetFeat)
            try root.write("msa_feat", tensor: features.msaFeat)
            try root.write("extra_msa_feat", tensor: features.extraMSAFeat)
            try root.write("aatype", features.aatype.map(Int64.init))
            try root.write("residue_index", features.residueIndex.map(Int64.init))
            let templates = try Self.templates()
            let templateGroup = try root.createGroup("templates")
            try templateGroup.write("aatype", templates.hhblitsAatype.joined().map(Int64.init))
            try templateGroup.write("all_atom_positions", tensor: Tensor(templates.positions.joined().joined().flatMap { [Double($0.x), Double($0.y), Double($0.z)] },
                                                                 shape: [templates.count, Self.crop.count, 37, 3]).cast(to: .float32))
            try templateGroup.write("all_atom_mask", tensor: Tensor(templates.masks.joined().joined().map(Double.init),
                                                            shape: [templates.count, Self.crop.count, 37]).cast(to: .float32))
            try root.setAttribute("passes", .int(Int64(Self.passes)))
            try root.setAttribute("evoformer_blocks", .int(Int64(model.evoformer.count)))
            try root.setAttribute("extra_blocks", .int(Int64(model.extraMSAStack.count)))
            try root.setAttribute("weights_digest", .string(Self.digest(model)))
            let raw = try InputTransformTests.shortQuery()
            let transformed = InputTransforms.features(raw, options: Self.transformOptions, seed: 5, pass: 0)
            let group = try root.createGroup("transforms")
            for (name, tensor) in raw.tensors() { try group.write("raw/" + name, tensor: tensor) }
            try group.write("row_order", transformed.rowOrder.map(Int64.init))
            try group.write("extra_kept", transformed.extraKept.map(Int64.init))
            try group.setAttribute("max_msa_clusters", .int(Int64(Self.transformOptions.maxClusters)))
            try group.setAttribute("max_extra_msa", .int(Int64(Self.transformOptions.maxExtra)))
            try file.close()
        }
        let root = try HDF5File(path: Self.fixture).root
        #expect(try root.attribute("weights_digest") == .string(Self.digest(model)),
                "the parity model's weights changed: rerun Scripts/openfold/make_upstream_parity_fixture.py")
        #expect(features.msaFeat.shape == [6, 12, 49] && features.extraMSAFeat.shape == [10, 12, 25])
    }

    @Test("raw features of short_query equal upstream's data_pipeline (MSA rows with their deletions as a multiset, the query first)")
    func dataPipeline() throws {
        let raw = try InputTransformTests.shortQuery()
        let group = try HDF5File(path: Self.fixture).root.group("raw")
        func ints(_ name: String) throws -> [Int32] { try group.dataset(name).readTensor().cast(to: .int32).scalars(as: Int32.self) }
        #expect(try ints("aatype") == raw.aatype && ints("between_segment_residues") == raw.betweenSegmentResidues)
        #expect(try ints("residue_index") == raw.residueIndex && ints("seq_length") == raw.seqLength && ints("num_alignments") == raw.numAlignments)
        let n = raw.residues
        func rows(_ msa: [Int32], _ deletions: [Int32]) -> [[Int32]] {
            stride(from: 0, to: msa.count, by: n).map { Array(msa[$0..<($0 + n)]) + Array(deletions[$0..<($0 + n)]) }
        }
        let ours = rows(raw.msa, raw.deletionMatrixInt), upstream = rows(try ints("msa"), try ints("deletion_matrix_int"))
        #expect(ours.count == upstream.count && ours.first == upstream.first)
        #expect(ours.sorted { $0.lexicographicallyPrecedes($1) } == upstream.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test("predict-mode features equal upstream's feature_pipeline replaying the same row draws (masking off)")
    func featurePipeline() throws {
        let raw = try InputTransformTests.shortQuery()
        let ours = InputTransforms.features(raw, options: Self.transformOptions, seed: 5, pass: 0)
        let group = try HDF5File(path: Self.fixture).root.group("features")
        #expect(try group.dataset("aatype").readTensor().cast(to: .int64).scalars(as: Int64.self).map(Int.init) == ours.aatype)
        #expect(try group.dataset("residue_index").readTensor().cast(to: .int64).scalars(as: Int64.self).map(Int.init) == ours.residueIndex)
        for (name, tensor) in [("target_feat", ours.targetFeat), ("msa_feat", ours.msaFeat), ("extra_msa_feat", ours.extraMSAFeat)] {
            let upstream = try Self.stored(group, name)
            #expect(upstream.shape == tensor.shape, "\(name): \(tensor.shape) vs upstream's \(upstream.shape)")
            guard upstream.shape == tensor.shape else { continue }
            let error = zip(tensor.doubles, upstream.doubles).map { abs($0 - $1) }.max() ?? 0
            #expect(error <= 1e-6, "\(name): largest difference \(error)")
        }
    }

    @Test("each Evoformer sub-block's update equals upstream's on upstream's inputs")
    func evoformerSubBlocks() throws {
        let model = try Self.model()
        let group = try HDF5File(path: Self.fixture).root.group("evoformer_block0")
        let block = model.evoformer[0]
        var m = try Self.stored(group, "msa").unsqueezed(axis: 0), z = try Self.stored(group, "pair").unsqueezed(axis: 0)
        let n = m.shape[2]
        // The template rows are masked where the template has no ψ angle.
        let msaMask = try Self.stored(group, "msa_mask").unsqueezed(axis: 0), pairMask = Tensor.ones([1, n, n])
        func check(_ name: String, _ ours: Tensor) throws -> Tensor {
            let upstream = try Self.stored(group, name).unsqueezed(axis: 0)
            let error = Self.relative(ours, upstream)
            #expect(error <= Self.limit, "\(name): relative error \(error)")
            return upstream  // the next update starts from upstream's state
        }
        m = m + (try check("msa_row_attention", block.msaAttentionRow(m, pair: z, mask: msaMask)))
        m = m + (try check("msa_column_attention", block.msaAttentionColumn(m, mask: msaMask, chunkSize: nil)))
        m = m + (try check("msa_transition", block.msaTransition(m, mask: nil)))
        z = z + (try check("outer_product_mean", block.outerProductMean(m, mask: msaMask)))
        z = z + (try check("triangle_multiplication_outgoing", block.triangleMultiplicationOutgoing(z, mask: pairMask)))
        z = z + (try check("triangle_multiplication_incoming", block.triangleMultiplicationIncoming(z, mask: pairMask)))
        z = z + (try check("triangle_attention_starting", block.triangleAttentionStarting(z, mask: pairMask)))
        z = z + (try check("triangle_attention_ending", block.triangleAttentionEnding(z, mask: pairMask)))
        _ = try check("pair_transition", block.pairTransition(z, mask: nil))
    }

    @Test("the extra-MSA block (global column attention) equals upstream's")
    func extraMSABlock() throws {
        let model = try Self.model()
        let group = try HDF5File(path: Self.fixture).root.group("extra_msa_block0")
        let e = try Self.stored(group, "msa").unsqueezed(axis: 0), z = try Self.stored(group, "pair").unsqueezed(axis: 0)
        let (s, n) = (e.shape[1], e.shape[2])
        let (msa, pair) = model.extraMSAStack[0](msa: e, pair: z, msaMask: .ones([1, s, n]), pairMask: .ones([1, n, n]))
        let msaError = Self.relative(msa, try Self.stored(group, "msa_out").unsqueezed(axis: 0))
        let pairError = Self.relative(pair, try Self.stored(group, "pair_out").unsqueezed(axis: 0))
        #expect(msaError <= Self.limit && pairError <= Self.limit, "msa \(msaError), pair \(pairError)")
    }

    @Test("invariant point attention equals upstream's on frames that are not the identity")
    func invariantPointAttention() throws {
        let model = try Self.model()
        let group = try HDF5File(path: Self.fixture).root.group("ipa")
        let single = try Self.stored(group, "single").unsqueezed(axis: 0), pair = try Self.stored(group, "pair").unsqueezed(axis: 0)
        let frames = Rigid(rotation: try Self.stored(group, "rotation").unsqueezed(axis: 0),
                           translation: try Self.stored(group, "translation").unsqueezed(axis: 0))
        let ours = model.structureModule.ipa(single, pair: pair, frames: frames, mask: .ones([1, single.shape[1]]))
        let error = Self.relative(ours, try Self.stored(group, "output").unsqueezed(axis: 0))
        #expect(error <= Self.limit, "relative error \(error)")
    }

    @Test("the structure module's frames of every iteration, torsions, atoms and single equal upstream's")
    func structureModule() throws {
        let model = try Self.model(), features = try Self.features()
        let group = try HDF5File(path: Self.fixture).root.group("structure_module")
        let single = try Self.stored(group, "single_in").unsqueezed(axis: 0), pair = try Self.stored(group, "pair_in").unsqueezed(axis: 0)
        let out = model.structureModule(single: single, pair: pair, mask: .ones([1, single.shape[1]]))
        let rotations = Tensor.concat(out.frames.map(\.rotation), axis: 0), translations = Tensor.concat(out.frames.map(\.translation), axis: 0)
        let atoms = SideChains.atoms(backbone: out.frames.last!, angles: out.angles, aatype: features.aatype).positions.squeezed(axis: 0)
        for (name, ours) in [("rotations", rotations), ("translations", translations), ("angles", out.angles.squeezed(axis: 0)),
                             ("unnormalized_angles", out.unnormalizedAngles.squeezed(axis: 0)), ("single", out.single.squeezed(axis: 0)),
                             ("positions", atoms)] {
            let error = Self.relative(ours, try Self.stored(group, name))
            #expect(error <= Self.limit, "\(name): relative error \(error)")
        }
        let deviation = zip(atoms.doubles, try Self.stored(group, "positions").doubles).map { abs($0 - $1) }.max()!
        #expect(deviation <= 0.01, "atoms differ by up to \(deviation) Å")
    }

    @Test("template search: upstream's HhsearchHitFeaturizer on the same hits and mmCIF folder gives the same features")
    func templateSearchFeatures() throws {
        let ours = try Self.templateSearch()
        let group = try HDF5File(path: Self.fixture).root.group("template_search")
        let aatype = try Self.stored(group, "template_aatype").doubles, n = ours.sequences[0].count
        #expect(ours.count == 1 && aatype.count == n * 22)
        #expect((0..<n).allSatisfy { aatype[$0 * 22 + ours.hhblitsAatype[0][$0]] == 1 })
        let positions = try Self.stored(group, "template_all_atom_positions").doubles, masks = try Self.stored(group, "template_all_atom_mask").doubles
        #expect(masks == ours.masks[0].joined().map(Double.init))
        let ourPositions = ours.positions[0].joined().flatMap { [Double($0.x), Double($0.y), Double($0.z)] }
        let deviation = zip(ourPositions, positions).map { abs($0 - $1) }.max()!
        #expect(deviation <= 1e-4, "positions (centred on the chain) differ by up to \(deviation) Å")
        #expect(try Self.stored(group, "template_sum_probs").doubles == ours.sumProbabilities)
    }

    @Test("template inputs: angle features (torsions from atom37) and pair features equal upstream's transforms")
    func templateInputs() throws {
        let templates = try Self.templates()
        let group = try HDF5File(path: Self.fixture).root.group("template_inputs")
        let angle = TemplateInputs.angleFeatures(templates, dtype: .float64), upstreamAngle = try group.dataset("angle_feat").readTensor()
        #expect(angle.shape == upstreamAngle.shape)
        let angleError = zip(angle.doubles, upstreamAngle.doubles).map { abs($0 - $1) }.max()!
        #expect(angleError <= 1e-5, "angle features differ by up to \(angleError)")
        let pair = TemplateInputs.pairFeatures(templates, template: 0, dtype: .float64), upstreamPair = try group.dataset("pair_feat").readTensor()
        #expect(pair.shape == Array(upstreamPair.shape.dropFirst()))
        #expect(pair.doubles == upstreamPair.doubles, "the pair features are 0/1 and must agree exactly")
        let rowMask = TemplateInputs.rowMask(templates).joined().map { $0 }
        #expect(rowMask == (try group.dataset("row_mask").readTensor().doubles))
    }

    @Test("the template stack (pair stack, pointwise attention, angle embedder) equals upstream's on upstream's pair")
    func templateEmbedder() throws {
        let model = try Self.model(), templates = try Self.templates()
        let group = try HDF5File(path: Self.fixture).root.group("template_embedder")
        let z = try Self.stored(group, "pair_in").unsqueezed(axis: 0), n = z.shape[1]
        let embedded = model.templateEmbedder!(templates, pair: z, pairMask: .ones([1, n, n]))
        for (name, ours) in [("pair_update", embedded.pair.squeezed(axis: 0)), ("single_embedding", embedded.rows.squeezed(axis: 0))] {
            let error = Self.relative(ours, try Self.stored(group, name).reshaped(ours.shape))
            #expect(error <= Self.limit, "\(name): relative error \(error)")
        }
    }

    @Test("the whole model with a template over three recycling passes: single, pair, atoms (0.01 Å), pLDDT and pTM equal upstream's")
    func wholeModel() throws {
        let model = try Self.model(), features = try Self.features(), templates = try Self.templates()
        #expect(templates.count == 1)
        let group = try HDF5File(path: Self.fixture).root.group("model")
        let last = withNoGrad {
            var recycled = AlphaFold.Recycled.zeros(residues: features.aatype.count)
            var pass: AlphaFold.Pass?
            for _ in 0..<Self.passes {
                pass = model.pass(features, templates: templates, recycled: recycled, chunkSize: nil)
                recycled = pass!.recycled
            }
            return pass!
        }
        let atoms = last.atoms.positions.squeezed(axis: 0), upstreamAtoms = try Self.stored(group, "positions")
        let deviation = zip(atoms.doubles, upstreamAtoms.doubles).map { abs($0 - $1) }.max()!
        #expect(deviation <= 0.01, "atoms differ by up to \(deviation) Å")
        let plddt = PLDDTHead.plddt(logits: model.plddtHead(last.single))
        let ptm = AlignedErrorHead.ptm(logits: model.alignedErrorHead!(last.pair).squeezed(axis: 0))
        for (name, ours) in [("single", last.single.squeezed(axis: 0)), ("pair", last.pair.squeezed(axis: 0)), ("plddt", plddt.reshaped([plddt.count]))] {
            let error = Self.relative(ours, try Self.stored(group, name).reshaped(ours.shape))
            #expect(error <= Self.limit, "\(name): relative error \(error)")
        }
        let upstreamPTM = try Self.stored(group, "ptm").doubles[0]
        #expect(abs(ptm - upstreamPTM) <= Self.limit * abs(upstreamPTM), "pTM \(ptm) vs \(upstreamPTM)")
    }
}
