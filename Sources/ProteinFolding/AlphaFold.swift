// The AlphaFold 2 monomer model without templates (model/model.py `AlphaFold`): per recycling
// pass, the input and recycling embedders, the extra-MSA stack, the Evoformer stack, the single
// projection, the structure module and the heads. Inference only (no graph is recorded).
import Foundation
import Kernels
import NeuralNetworks
import TensorCore

/// The monomer presets (openfold/config.py): all share the network's widths; model_1/2 take
/// 5,120 extra rows (their templates are off here), model_3–5 1,024; `_ptm` adds the
/// aligned-error head.
public struct AlphaFoldPreset: Sendable, Equatable {
    public let name: String
    public let maxExtra: Int
    public let predictsAlignedError: Bool
    public var evoformerBlocks = 48, extraBlocks = 4, structureIterations = 8

    public static let names = ["model_1", "model_2", "model_3", "model_4", "model_5"].flatMap { [$0, $0 + "_ptm"] }

    public init(_ name: String) throws {
        guard Self.names.contains(name) else {
            throw FoldingInputError(file: "--preset", line: 0, message: "unknown preset '\(name)' (expected one of \(Self.names.joined(separator: ", ")))")
        }
        self.name = name
        maxExtra = name.hasPrefix("model_1") || name.hasPrefix("model_2") ? 5_120 : 1_024
        predictsAlignedError = name.hasSuffix("_ptm")
    }
}

/// What one fold returns.
public struct FoldResult {
    /// Backbone frames of the last pass (translations in Å), `[1, N, 3, 3]` and `[1, N, 3]`.
    public var frames: Rigid
    /// pLDDT per residue (0–100).
    public var plddt: [Double]
    /// pTM and the predicted aligned error `[N, N]` (Å), for the _ptm presets.
    public var ptm: Double?
    public var predictedAlignedError: [Double]?
    /// Seconds per recycling pass.
    public var passSeconds: [Double]
}

public final class AlphaFold: Module {
    public let inputEmbedder: InputEmbedder
    public let recyclingEmbedder: RecyclingEmbedder
    public let extraMSAEmbedder: ExtraMSAEmbedder
    public let extraMSAStack: [EvoformerBlock]
    public let evoformer: [EvoformerBlock]
    public let linearSingle: Linear
    public let structureModule: StructureModule
    public let plddtHead: PLDDTHead
    public let alignedErrorHead: AlignedErrorHead?
    public let preset: AlphaFoldPreset

    public init(preset: AlphaFoldPreset, generator: inout RandomGenerator) {
        self.preset = preset
        inputEmbedder = InputEmbedder(generator: &generator)
        recyclingEmbedder = RecyclingEmbedder(generator: &generator)
        extraMSAEmbedder = ExtraMSAEmbedder(generator: &generator)
        extraMSAStack = (0..<preset.extraBlocks).map { _ in EvoformerBlock(.extraMSA, globalColumnAttention: true, generator: &generator) }
        evoformer = (0..<preset.evoformerBlocks).map { _ in EvoformerBlock(generator: &generator) }
        linearSingle = Linear(256, 384, initialization: .lecun, generator: &generator)
        structureModule = StructureModule(iterations: preset.structureIterations, generator: &generator)
        plddtHead = PLDDTHead(generator: &generator)
        alignedErrorHead = preset.predictsAlignedError ? AlignedErrorHead(generator: &generator) : nil
    }

    /// Backbone atom positions in a residue's frame (Å): AlphaFold's idealised N, Cα, C of its
    /// backbone rigid group (residue_constants.rigid_group_atom_positions, alanine; Engh & Huber).
    public static let backboneAtoms: [(String, SIMD3<Double>)] = [("N", SIMD3(-0.525, 1.363, 0)), ("CA", .zero), ("C", SIMD3(1.526, 0, 0))]

    /// Folds one query: `passes` recycling passes (recycles + 1), features sampled per pass
    /// (`maxClusters` centres, 512 as upstream).
    public func fold(_ raw: RawFeatures, passes: Int, seed: UInt64, chunkSize: Int?, maxClusters: Int = 512, progress: (Int, Double) -> Void = { _, _ in }) -> FoldResult {
        withNoGrad {
            let n = raw.residues
            var previousFirstRow = Tensor.zeros([1, n, 256]), previousPair = Tensor.zeros([1, n, n, 128])
            var previousPositions = [SIMD3<Double>](repeating: .zero, count: n)
            var frames = Rigid.identity(batch: 1, residues: n, dtype: .float32)
            var single = Tensor.zeros([1, n, 384])
            var seconds: [Double] = []
            let clock = ContinuousClock()
            let options = InputTransformOptions(maxClusters: maxClusters, maxExtra: preset.maxExtra)
            for pass in 0..<passes {
                let start = clock.now
                let features = InputTransforms.features(raw, options: options, seed: seed, pass: pass)
                let clusters = features.clusters, extraRows = features.extraRows
                var (m, z) = inputEmbedder(targetFeat: features.targetFeat.unsqueezed(axis: 0), msaFeat: features.msaFeat.unsqueezed(axis: 0),
                                           residueIndex: features.residueIndex)
                let recycled = recyclingEmbedder(previousFirstRow: previousFirstRow, previousPair: previousPair, previousPseudoBeta: previousPositions)
                m = Tensor.concat([m.sliced(axis: 1, 0, 1) + recycled.firstRow.unsqueezed(axis: 1), m.sliced(axis: 1, 1)], axis: 1)
                z = z + recycled.pair
                let pairMask = Tensor.ones([1, n, n])
                if extraRows > 0 {
                    var e = extraMSAEmbedder(features.extraMSAFeat.unsqueezed(axis: 0))
                    let extraMask = Tensor.ones([1, extraRows, n])
                    for block in extraMSAStack { (e, z) = block(msa: e, pair: z, msaMask: extraMask, pairMask: pairMask, chunkSize: chunkSize) }
                }
                let msaMask = Tensor.ones([1, clusters, n])
                for block in evoformer { (m, z) = block(msa: m, pair: z, msaMask: msaMask, pairMask: pairMask, chunkSize: chunkSize) }
                let firstRow = m.sliced(axis: 1, 0, 1).squeezed(axis: 1)
                let structure = structureModule(single: linearSingle(firstRow), pair: z, mask: Tensor.ones([1, n]))
                frames = structure.frames.last!
                single = structure.single
                previousFirstRow = firstRow
                previousPair = z
                // Pseudo-β of the previous pass: Cα here (Cβ needs the side-chain atoms, not built yet).
                let translations = frames.translation.doubles
                previousPositions = (0..<n).map { SIMD3(translations[3 * $0], translations[3 * $0 + 1], translations[3 * $0 + 2]) }
                seconds.append((clock.now - start).inSeconds)
                progress(pass, seconds.last!)
            }
            let plddt = PLDDTHead.plddt(logits: plddtHead(single)).doubles
            var ptm: Double?, pae: [Double]?
            if let alignedErrorHead {
                let logits = alignedErrorHead(previousPair).squeezed(axis: 0)
                ptm = AlignedErrorHead.ptm(logits: logits)
                pae = AlignedErrorHead.predictedAlignedError(logits: logits).doubles
            }
            return FoldResult(frames: frames, plddt: plddt, ptm: ptm, predictedAlignedError: pae, passSeconds: seconds)
        }
    }
}

/// PDB output of a fold: backbone atoms (N, Cα, C) per residue with pLDDT in the B-factor column.
public enum PDBWriter {
    static let threeLetter: [Character: String] = [
        "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU", "G": "GLY", "H": "HIS", "I": "ILE",
        "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER", "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
    ]

    public static func text(sequence: String, frames: Rigid, plddt: [Double], remarks: [String]) -> String {
        let rotations = frames.rotation.doubles, translations = frames.translation.doubles
        var lines = remarks.map { "REMARK   1 " + $0 }
        var serial = 1
        for (i, letter) in sequence.enumerated() {
            let frame = RigidTransform(rotation: Array(rotations[9 * i..<9 * i + 9]),
                                       translation: SIMD3(translations[3 * i], translations[3 * i + 1], translations[3 * i + 2]))
            for (name, local) in AlphaFold.backboneAtoms {
                let p = frame.apply(local)
                let atomName = name.count < 4 ? " " + name.padding(toLength: 3, withPad: " ", startingAt: 0) : name
                lines.append(String(format: "ATOM  %5d %@ %@ A%4d    %8.3f%8.3f%8.3f  1.00%6.2f           %@", serial, atomName,
                                    threeLetter[letter] ?? "UNK", i + 1, p.x, p.y, p.z, plddt[i], String(name.prefix(1))))
                serial += 1
            }
        }
        lines.append(String(format: "TER   %5d      %@ A%4d", serial, threeLetter[sequence.last ?? "X"] ?? "UNK", sequence.count))
        lines.append("END")
        return lines.joined(separator: "\n") + "\n"
    }
}
