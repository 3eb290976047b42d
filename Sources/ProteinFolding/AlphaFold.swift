// The AlphaFold 2 monomer model (model/model.py `AlphaFold`): per recycling pass, the input and
// recycling embedders, the template stack (model_1/2: its pair update added to z, one MSA row per
// template), the extra-MSA stack, the Evoformer stack, the single projection, the structure
// module and the heads. `fold` is inference (no graph is recorded);
// `pass` is differentiable for training (FoldingLosses).
import Foundation
import Kernels
import NeuralNetworks
import TensorCore
import TensorIO

/// The monomer presets (openfold/config.py): all share the network's widths; model_1, 3 and 4
/// take 5,120 extra rows, model_2 and 5 1,024; model_1 and 2 have the template stack (used when a
/// fold is given templates); `_ptm` adds the aligned-error head.
public struct AlphaFoldPreset: Sendable, Equatable {
    public let name: String
    public let maxExtra: Int
    public let predictsAlignedError: Bool
    public let usesTemplates: Bool
    /// Templates the model sees (`max_templates` 4 in predict mode).
    public var maxTemplates = 4
    public var evoformerBlocks = 48, extraBlocks = 4, structureIterations = 8

    public static let names = ["model_1", "model_2", "model_3", "model_4", "model_5"].flatMap { [$0, $0 + "_ptm"] }

    public init(_ name: String) throws {
        guard Self.names.contains(name) else {
            throw FileError(file: "--preset", line: 0, message: "unknown preset '\(name)' (expected one of \(Self.names.joined(separator: ", ")))")
        }
        self.name = name
        // AlphaFold 2 supplement table 5 (openfold/config.py): models 1.1.1, 1.2.1 and 1.2.2 take
        // 5,120 extra sequences, 1.1.2 and 1.2.3 take 1,024.
        maxExtra = name.hasPrefix("model_2") || name.hasPrefix("model_5") ? 1_024 : 5_120
        predictsAlignedError = name.hasSuffix("_ptm")
        usesTemplates = name.hasPrefix("model_1") || name.hasPrefix("model_2")
    }
}

/// What one fold returns.
public struct FoldResult {
    /// Backbone frames of the last pass (translations in Å), `[1, N, 3, 3]` and `[1, N, 3]`.
    public var frames: Rigid
    /// Heavy-atom positions of the last pass, atom14 order `[N, 14, 3]` (Å), and the restypes.
    public var atom14: Tensor
    public var aatype: [Int]
    /// pLDDT per residue (0–100).
    public var plddt: [Double]
    /// pTM and the predicted aligned error `[N, N]` (Å), for the _ptm presets.
    public var ptm: Double?
    public var predictedAlignedError: [Double]?
    /// Seconds per recycling pass.
    public var passSeconds: [Double]
}

public final class AlphaFold: Module, ActivationCheckpointing {
    public let inputEmbedder: InputEmbedder
    public let recyclingEmbedder: RecyclingEmbedder
    public let templateEmbedder: TemplateEmbedder?
    public let extraMSAEmbedder: ExtraMSAEmbedder
    public let extraMSAStack: [EvoformerBlock]
    public let evoformer: [EvoformerBlock]
    public let linearSingle: Linear
    public let structureModule: StructureModule
    public let plddtHead: PLDDTHead
    public let alignedErrorHead: AlignedErrorHead?
    public let distogramHead: DistogramHead
    public let maskedMSAHead: MaskedMSAHead
    public let experimentallyResolvedHead: ExperimentallyResolvedHead
    public let preset: AlphaFoldPreset

    public init(preset: AlphaFoldPreset, generator: inout RandomGenerator) {
        self.preset = preset
        inputEmbedder = InputEmbedder(generator: &generator)
        recyclingEmbedder = RecyclingEmbedder(generator: &generator)
        templateEmbedder = preset.usesTemplates ? TemplateEmbedder(generator: &generator) : nil
        extraMSAEmbedder = ExtraMSAEmbedder(generator: &generator)
        extraMSAStack = (0..<preset.extraBlocks).map { _ in EvoformerBlock(.extraMSA, globalColumnAttention: true, generator: &generator) }
        evoformer = (0..<preset.evoformerBlocks).map { _ in EvoformerBlock(generator: &generator) }
        linearSingle = Linear(256, 384, initialization: .lecun, generator: &generator)
        structureModule = StructureModule(iterations: preset.structureIterations, generator: &generator)
        plddtHead = PLDDTHead(generator: &generator)
        alignedErrorHead = preset.predictsAlignedError ? AlignedErrorHead(generator: &generator) : nil
        distogramHead = DistogramHead(generator: &generator)
        maskedMSAHead = MaskedMSAHead(generator: &generator)
        experimentallyResolvedHead = ExperimentallyResolvedHead(generator: &generator)
    }

    /// What the previous recycling pass hands to the next (zeros before the first).
    public struct Recycled {
        public var firstRow: Tensor, pair: Tensor
        public var pseudoBeta: [SIMD3<Double>]

        public static func zeros(residues n: Int, dtype: DType = .float32) -> Recycled {
            Recycled(firstRow: .zeros([1, n, 256], dtype: dtype), pair: .zeros([1, n, n, 128], dtype: dtype),
                     pseudoBeta: Array(repeating: .zero, count: n))
        }
    }

    /// One pass's outputs: the trunk's MSA `[1, S, N, c_m]` and pair `[1, N, N, c_z]`, the
    /// structure module's single, frames per iteration and torsions (unnormalised and
    /// normalised, `[1, N, 7, 2]`), and the heavy atoms built from the last frames.
    public struct Pass {
        public var msa: Tensor, pair: Tensor, single: Tensor
        public var frames: [Rigid]
        public var unnormalizedAngles: Tensor, angles: Tensor
        public var atoms: SideChains.Atoms
        public var recycled: Recycled
    }

    /// Each Evoformer and extra-MSA block keeps only its inputs and is run again in the backward pass
    /// (OpenFold's `blocks_per_ckpt` 1).
    public var checkpointsActivations = false

    private func checkpointed(_ block: EvoformerBlock, msa: Tensor, pair: Tensor, msaMask: Tensor, pairMask: Tensor,
                              chunkSize: Int?) -> (Tensor, Tensor) {
        let outputs = block.checkpointed(checkpointsActivations, [msa, pair]) { inputs in
            let (m, z) = block(msa: inputs[0], pair: inputs[1], msaMask: msaMask, pairMask: pairMask, chunkSize: chunkSize)
            return [m, z]
        }
        return (outputs[0], outputs[1])
    }

    /// One recycling pass on sampled features (recorded for autograd unless under `withNoGrad`);
    /// templates are used by the presets with a template stack, up to `maxTemplates` of them.
    public func pass(_ features: PassFeatures, templates: TemplateFeatures = .none, recycled: Recycled, chunkSize: Int?) -> Pass {
        let n = features.aatype.count
        var (m, z) = inputEmbedder(targetFeat: features.targetFeat.unsqueezed(axis: 0), msaFeat: features.msaFeat.unsqueezed(axis: 0),
                                   residueIndex: features.residueIndex)
        let carried = recyclingEmbedder(previousFirstRow: recycled.firstRow, previousPair: recycled.pair, previousPseudoBeta: recycled.pseudoBeta)
        m = Tensor.concat([m.sliced(axis: 1, 0, 1) + carried.firstRow.unsqueezed(axis: 1), m.sliced(axis: 1, 1)], axis: 1)
        z = z + carried.pair
        let pairMask = Tensor.ones([1, n, n])
        var msaMask = Tensor.ones([1, features.clusters, n])
        let templates = templates.prefix(preset.maxTemplates)
        if let templateEmbedder, templates.count > 0 {
            let embedded = templateEmbedder(templates, pair: z, pairMask: pairMask, chunkSize: chunkSize)
            z = z + embedded.pair
            m = Tensor.concat([m, embedded.rows], axis: 1)
            msaMask = Tensor.concat([msaMask, embedded.rowMask], axis: 1)
        }
        if features.extraRows > 0 {
            var e = extraMSAEmbedder(features.extraMSAFeat.unsqueezed(axis: 0))
            let extraMask = Tensor.ones([1, features.extraRows, n])
            for block in extraMSAStack { (e, z) = checkpointed(block, msa: e, pair: z, msaMask: extraMask, pairMask: pairMask, chunkSize: chunkSize) }
        }
        for block in evoformer { (m, z) = checkpointed(block, msa: m, pair: z, msaMask: msaMask, pairMask: pairMask, chunkSize: chunkSize) }
        let firstRow = m.sliced(axis: 1, 0, 1).squeezed(axis: 1)
        let structure = structureModule(single: linearSingle(firstRow), pair: z, mask: Tensor.ones([1, n]))
        let atoms = SideChains.atoms(backbone: structure.frames.last!, angles: structure.angles, aatype: features.aatype)
        let pseudoBeta = SideChains.pseudoBeta(atoms.positions.squeezed(axis: 0).detached(), aatype: features.aatype)
        return Pass(msa: m.sliced(axis: 1, 0, features.clusters), pair: z, single: structure.single, frames: structure.frames, unnormalizedAngles: structure.unnormalizedAngles,
                    angles: structure.angles, atoms: atoms,
                    recycled: Recycled(firstRow: firstRow.detached(), pair: z.detached(), pseudoBeta: pseudoBeta))
    }

    /// Folds one query: `passes` recycling passes (recycles + 1), features sampled per pass
    /// (`maxClusters` centres, 512 as upstream).
    public func fold(_ raw: RawFeatures, templates: TemplateFeatures = .none, passes: Int, seed: UInt64, chunkSize: Int?, maxClusters: Int = 512, progress: (Int, Double) -> Void = { _, _ in }) -> FoldResult {
        withNoGrad {
            var recycled = Recycled.zeros(residues: raw.residues)
            var last: Pass?
            var seconds: [Double] = []
            let clock = ContinuousClock()
            let options = InputTransformOptions(maxClusters: maxClusters, maxExtra: preset.maxExtra)
            for index in 0..<passes {
                let start = clock.now
                let features = InputTransforms.features(raw, options: options, seed: seed, pass: index)
                let result = pass(features, templates: templates, recycled: recycled, chunkSize: chunkSize)
                recycled = result.recycled
                last = result
                seconds.append((clock.now - start).inSeconds)
                progress(index, seconds.last!)
            }
            let final = last!
            let plddt = PLDDTHead.plddt(logits: plddtHead(final.single)).doubles
            var ptm: Double?, pae: [Double]?
            if let alignedErrorHead {
                let logits = alignedErrorHead(final.pair).squeezed(axis: 0)
                ptm = AlignedErrorHead.ptm(logits: logits)
                pae = AlignedErrorHead.predictedAlignedError(logits: logits).doubles
            }
            return FoldResult(frames: final.frames.last!, atom14: final.atoms.positions.squeezed(axis: 0), aatype: raw.sequence.map { ResidueAlphabet.restype($0) },
                              plddt: plddt, ptm: ptm, predictedAlignedError: pae, passSeconds: seconds)
        }
    }
}

/// Structure files of a fold: every heavy atom (atom14 slots in use) with pLDDT in the B-factor.
public enum StructureWriter {
    /// One residue's atoms as (name, element, position).
    static func atoms(_ result: FoldResult, residue i: Int) -> [(String, String, SIMD3<Double>)] {
        let restype = result.aatype[i]
        guard restype < 20 else { return [] }
        let values = result.atom14.doubles
        return ResidueConstants.atom14Names[restype].enumerated().map { slot, name in
            let base = (i * 14 + slot) * 3
            return (name, String(name.prefix(1)), SIMD3(values[base], values[base + 1], values[base + 2]))
        }
    }

    static func residueName(_ restype: Int) -> String { restype < 20 ? ResidueConstants.threeLetter[restype] : "UNK" }

    /// PDB: REMARK lines, ATOM records of chain A, TER, END.
    public static func pdb(_ result: FoldResult, remarks: [String]) -> String {
        var lines = remarks.map { "REMARK   1 " + $0 }
        var serial = 1
        for i in result.aatype.indices {
            for (name, element, p) in atoms(result, residue: i) {
                let atomName = name.count < 4 ? " " + name.padding(toLength: 3, withPad: " ", startingAt: 0) : name
                lines.append(String(format: "ATOM  %5d %@ %@ A%4d    %8.3f%8.3f%8.3f  1.00%6.2f          %2@", serial, atomName,
                                    residueName(result.aatype[i]), i + 1, p.x, p.y, p.z, result.plddt[i], element))
                serial += 1
            }
        }
        lines.append(String(format: "TER   %5d      %@ A%4d", serial, residueName(result.aatype.last ?? 20), result.aatype.count))
        lines.append("END")
        return lines.joined(separator: "\n") + "\n"
    }

    /// mmCIF: one data block with the atom_site loop (PDBx names), pLDDT in B_iso_or_equiv.
    public static func mmCIF(_ result: FoldResult, name: String) -> String {
        var lines = ["data_\(name.replacingOccurrences(of: " ", with: "_"))", "#", "loop_"]
        let columns = ["group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
                       "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
                       "B_iso_or_equiv", "auth_seq_id", "auth_comp_id", "auth_asym_id", "auth_atom_id", "pdbx_PDB_model_num"]
        lines += columns.map { "_atom_site." + $0 }
        var serial = 1
        for i in result.aatype.indices {
            for (atom, element, p) in atoms(result, residue: i) {
                let residue = residueName(result.aatype[i])
                lines.append(String(format: "ATOM %d %@ %@ . %@ A 1 %d ? %.3f %.3f %.3f 1.00 %.2f %d %@ A %@ 1", serial, element, atom,
                                    residue, i + 1, p.x, p.y, p.z, result.plddt[i], i + 1, residue, atom))
                serial += 1
            }
        }
        lines.append("#")
        return lines.joined(separator: "\n") + "\n"
    }
}
