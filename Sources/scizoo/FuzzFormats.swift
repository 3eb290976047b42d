// Every input format SciZoo reads, for the fuzz harness: where its real seed files come from and
// what SciZoo does with such a file (the reader a command runs, with the checks it makes). Seeds
// are the repository's datasets and recipes, the shared upstream fixtures, and files SciZoo's own
// writers make from those; netCDF-4 comes from netCDF4-python, as WeatherBench's files do.
import ClimateForecasting
import Foundation
import GenomeLM
import MolecularDynamics
import MolecularGraphs
import ParallelRuntime
import ProteinFolding
import Recipes
import TensorCore
import TensorIO

struct FuzzFormat {
    let name: String
    let summary: String
    /// Writes or finds the seed files; each keeps its extension, as readers dispatch on it.
    let seeds: (FuzzSeeds) throws -> [String]
    /// What SciZoo does with such a file; throws the error a user would see.
    let read: (String) throws -> Void
}

/// Where seeds come from: the repository, ../shared/fixtures beside it, and a folder to write in.
struct FuzzSeeds {
    let root: String
    let directory: String
    var shared: String { root + "/../shared/fixtures" }

    /// A file that must exist, relative to the repository.
    func file(_ relative: String) throws -> String {
        let path = relative.hasPrefix("/") ? relative : root + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(file: path, message: "seed file missing (run from the repository root with ../shared beside it, or pass --root)")
        }
        return path
    }

    /// The first `maxBytes` of a text file, cut after a line; with `boundary`, before the last line
    /// starting with it (a record's header), or after it when it ends records (`$$$$`).
    func prefix(_ relative: String, maxBytes: Int, boundary: String? = nil, name: String) throws -> String {
        let bytes = try CompressedText.read(try file(relative))
        return try prefix(bytes: bytes, maxBytes: maxBytes, boundary: boundary, name: name)
    }

    func prefix(bytes: [UInt8], maxBytes: Int, boundary: String? = nil, name: String) throws -> String {
        guard bytes.count > maxBytes else { return try write(name, bytes) }
        let text = String(decoding: bytes[..<maxBytes], as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        if let boundary, let last = lines.lastIndex(where: { $0.hasPrefix(boundary) }) { lines = lines[..<(boundary == "$$$$" ? last + 1 : last)] }
        return try write(name, Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func path(_ name: String) -> String { directory + "/" + name }
}

extension FuzzFormat {
    /// Every format, in the order `scizoo fuzz all` runs them.
    static func all() -> [FuzzFormat] {
        let openfold = "../shared/fixtures/openfold/", models = ModelCache()
        return [
            FuzzFormat(name: "fasta", summary: "GenSLM's FASTA reader (fasta-to-h5, genslm-embed)", seeds: { s in
                [try s.prefix("Datasets/genslm/synthetic_genes.fa", maxBytes: 6000, boundary: ">", name: "genes.fa"),
                 try s.file(openfold + "2q2k_A/2q2k_A.fasta")]
            }, read: { path in _ = try GenomeLM.FastaReader.readAll(path: path) }),

            FuzzFormat(name: "fasta-gz", summary: "gzip-compressed FASTA (the lambda phage genome fasta-to-h5 reads)", seeds: { s in
                [try s.file("/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz")]
            }, read: { path in _ = try GenomeLM.FastaReader.readAll(path: path) }),

            FuzzFormat(name: "fasta-query", summary: "OpenFold's query FASTA (scizoo fold)", seeds: { s in
                [try s.file(openfold + "short_query/short.fasta"), try s.file(openfold + "2q2k_A/2q2k_A.fasta")]
            }, read: { path in _ = try AlignmentParsers.query(fastaAt: path) }),

            FuzzFormat(name: "a3m", summary: "a3m alignments to OpenFold's MSA features", seeds: { s in
                [try s.prefix(openfold + "short_query/alignments/bfd_uniclust_hits.a3m", maxBytes: 8000, boundary: ">", name: "short.a3m"),
                 try s.prefix(openfold + "2q2k_A/alignments/2q2k_A/bfd_uniclust_hits.a3m", maxBytes: 8000, boundary: ">", name: "2q2k.a3m")]
            }, read: alignmentFeatures),

            FuzzFormat(name: "stockholm", summary: "Stockholm alignments to OpenFold's MSA features", seeds: { s in
                [try s.file(openfold + "short_query/alignments/mgnify_hits.sto"), try s.file(openfold + "short_query/alignments/uniref90_hits.sto")]
            }, read: alignmentFeatures),

            FuzzFormat(name: "hhr", summary: "HHsearch template hits", seeds: { s in
                [try s.file(openfold + "short_query/alignments/pdb70_hits.hhr")]
            }, read: { path in _ = try AlignmentParsers.hhr(at: path) }),

            FuzzFormat(name: "mmcif", summary: "mmCIF structures (protein-metrics, fold-finetune targets)", seeds: { s in
                [try s.file(openfold + "2q2k_A/ground_truth/2q2k.cif")]
            }, read: { path in _ = try ProteinStructure.read(path) }),

            FuzzFormat(name: "pdb", summary: "PDB structures (2q2k's coordinates written as ATOM records)", seeds: { s in
                [try s.write("2q2k.pdb", Array(pdbText(try ProteinStructure.read(try s.file(openfold + "2q2k_A/ground_truth/2q2k.cif"))).utf8))]
            }, read: { path in _ = try ProteinStructure.read(path) }),

            FuzzFormat(name: "genslm-recipe", summary: "GenSLM YAML recipes (ours and upstream's)", seeds: { s in
                [try s.file("Recipes/genslm/smoke.yaml"), try s.file("../shared/fixtures/genslm/training_yaml/25M_foundation.yaml")]
            }, read: { path in _ = try GenSLMSettings.load(from: path) }),

            FuzzFormat(name: "climax-recipe", summary: "ClimaX YAML recipes", seeds: { s in [try s.file("Recipes/climax/smoke.yaml")] },
                       read: { path in _ = try ClimaXSettings.load(from: path) }),

            FuzzFormat(name: "mlff-recipe", summary: "force-field YAML recipes", seeds: { s in [try s.file("Recipes/mlff/smoke.yaml")] },
                       read: { path in _ = try MLFFSettings.load(from: path) }),

            FuzzFormat(name: "md-recipe", summary: "molecular dynamics YAML recipes", seeds: { s in
                [try s.file("Recipes/md/smoke.yaml"), try s.file("Recipes/mlff/md.yaml")]
            }, read: { path in _ = try MDSettings.load(from: path) }),

            FuzzFormat(name: "sfm-recipe", summary: "Graphormer and Transformer-M YAML recipes", seeds: { s in
                [try s.file("Recipes/sfm/smoke.yaml"), try s.file("Recipes/sfm/transformer-m.yaml")]
            }, read: { path in _ = try GraphormerSettings.load(from: path) }),

            FuzzFormat(name: "dig-recipe", summary: "DiG YAML recipes", seeds: { s in [try s.file("Recipes/sfm/dig.yaml")] },
                       read: { path in _ = try DiGSettings.load(from: path) }),

            FuzzFormat(name: "deepspeed-json", summary: "DeepSpeed JSON configs", seeds: { s in
                [try s.write("ds_config.json", Array(deepSpeedSeed.utf8))]
            }, read: { path in _ = try DeepSpeedConfig.load(path: path, dataParallelSize: 2) }),

            FuzzFormat(name: "neox-json", summary: "GPT-NeoX model configs (ours and GenSLM's)", seeds: { s in
                [try s.file("Recipes/genslm/tiny_neox.json"), try s.file("Recipes/genslm/tiny_neox_rpe.json"),
                 try s.file("../shared/fixtures/genslm/architectures/neox/neox_25,290,752.json")]
            }, read: { path in _ = try GPTNeoXConfiguration.load(from: path) }),

            FuzzFormat(name: "tokenizer-json", summary: "Hugging Face word-level tokenizers (GenSLM's codon vocabularies)", seeds: { s in
                [try s.file("../shared/fixtures/genslm/tokenizer_files/codon_wordlevel_69vocab.json")]
            }, read: { path in _ = try CodonTokenizer.load(from: path) }),

            FuzzFormat(name: "safetensors", summary: "safetensors weights (schnetpack's SchNet, ClimaX's upstream twin)", seeds: { s in
                [try s.file("Tests/MolecularDynamicsTests/Fixtures/schnetpack_schnet.safetensors")]
            }, read: { path in _ = try Safetensors.read(from: path) }),

            FuzzFormat(name: "npz", summary: "NumPy .npz archives (ASE frames, AlphaFold's feature dict)", seeds: { s in
                [try s.file("Tests/MolecularDynamicsTests/Fixtures/ase_frames.npz")]
            }, read: { path in _ = try NumpyArchive(contentsOf: path) }),

            FuzzFormat(name: "md17-npz", summary: "MD17 and rMD17 archives (mlff-convert)", seeds: { s in
                try md17Seeds(s)
            }, read: { path in _ = try MD17Archive.read(path) }),

            FuzzFormat(name: "alphafold-npz", summary: "AlphaFold .npz weights into model_1_ptm's layout (1 Evoformer, 1 extra-MSA block)", seeds: { s in
                let path = s.path("params_model_1_ptm.npz")
                try AlphaFoldWeights.save(try models.alphaFold(), to: path)
                return [path]
            }, read: { path in try AlphaFoldWeights.load(path, into: try models.alphaFold()) }),

            FuzzFormat(name: "genslm-h5", summary: "GenSLM HDF5 datasets (fasta-to-h5 of the bundled genes), read in batches", seeds: { s in
                let fasta = try s.prefix(try s.file("Datasets/genslm/synthetic_genes.fa"), maxBytes: 20_000, boundary: ">", name: "genes-for-h5.fa")
                let tokenizer = try CodonTokenizer.load(from: try s.file("../shared/fixtures/genslm/tokenizer_files/codon_wordlevel_69vocab.json"))
                let written = try GenomeDatasetWriter.convert(fasta: fasta, tokenizer: tokenizer, blockSize: 64, outputDirectory: s.directory,
                                                              split: DatasetSplit(train: 1, validation: 0, test: 0))
                return written.map(\.path)
            }, read: { path in
                // As training does: batches by index (here the first 64 rows and the last).
                let reader = try GenomeBatchReader(path: path)
                _ = try reader.batch(Array(0..<Swift.min(64, reader.count)) + (reader.count > 64 ? [reader.count - 1] : []))
            }),

            FuzzFormat(name: "climax-h5", summary: "ClimaX HDF5 grid shards (climate-synth's layout, gzip)", seeds: { s in
                var atmosphere = SyntheticAtmosphere(days: 3, seed: 7)
                (atmosphere.height, atmosphere.width, atmosphere.splitDays, atmosphere.shardDays) = (8, 16, (1, 1, 1), 1)
                return [try atmosphere.write(to: s.directory + "/grid").first!]
            }, read: readGrid),

            FuzzFormat(name: "netcdf", summary: "WeatherBench netCDF-4 files (written by netCDF4-python)", seeds: { s in
                [try netCDFSeed(s)]
            }, read: readGrid),

            FuzzFormat(name: "checkpoint-h5", summary: "SciZoo HDF5 checkpoints (a GPT-NeoX with Adam state)", seeds: { s in
                let path = s.path("checkpoint.h5")
                try models.checkpoint().write(to: path)
                return [path]
            }, read: { path in _ = try Checkpoint.read(from: path) }),

            FuzzFormat(name: "extxyz", summary: "extended XYZ frames (ASE's writer, GFN2-xTB ethanol, argon)", seeds: { s in
                [try s.file("Recipes/md/argon_fcc_108.extxyz"), try s.file("Tests/MolecularDynamicsTests/Fixtures/ase_frames.extxyz"),
                 try s.prefix("Datasets/mlff/ethanol_gfn2xtb.extxyz", maxBytes: 3000, boundary: "9", name: "ethanol.extxyz")]
            }, read: { path in _ = try ExtendedXYZ.read(path) }),

            FuzzFormat(name: "mlff-h5", summary: "SciZoo force-field HDF5 (mlff-convert of the ethanol frames), every frame read", seeds: { s in
                let frames = try ExtendedXYZ.read(try s.file("Datasets/mlff/ethanol_gfn2xtb.extxyz"))
                let path = s.path("ethanol.h5")
                try ForceFieldHDF5.convert(FrameList(path: "ethanol_gfn2xtb.extxyz", frames: Array(frames.prefix(6))), to: path)
                return [path]
            }, read: { path in
                let source = try ForceFieldData.open(path)
                for index in 0..<source.count { _ = try source.frame(index) }
            }),

            FuzzFormat(name: "smiles", summary: "SMILES files (one molecule a line)", seeds: { s in
                [try s.write("molecules.smi", Array((try moleculeSMILES(s, count: 24).joined(separator: "\n") + "\n").utf8))]
            }, read: { path in _ = try MoleculeInput.read(path) }),

            FuzzFormat(name: "csv", summary: "molecule CSV files (SMILES and targets)", seeds: { s in
                [try s.prefix("Datasets/molecules/molecules.csv", maxBytes: 1600, name: "molecules.csv")]
            }, read: { path in _ = try MoleculeInput.read(path) }),

            FuzzFormat(name: "sdf", summary: "SD files (RDKit's writer)", seeds: { s in
                [try s.prefix("Datasets/molecules/molecules.sdf.gz", maxBytes: 12_000, boundary: "$$$$", name: "molecules.sdf")]
            }, read: { path in _ = try MoleculeInput.read(path) }),

            FuzzFormat(name: "molgraph-h5", summary: "molecular graph HDF5 (mol-graphs' layout)", seeds: { s in
                let graphs = try moleculeSMILES(s, count: 12).map { try MolecularGraph.fromSMILES($0) }
                let path = s.path("molecules.h5")
                try MolecularGraphDataset(graphs: graphs, records: Array(graphs.indices)).write(to: path, source: "molecules.csv")
                return [path]
            }, read: { path in _ = try MolecularGraphDataset.read(path) }),
        ]
    }

    /// What `scizoo fold` does with an alignment: parse it, then build MSA features with its
    /// first row (gaps removed) as the query.
    static func alignmentFeatures(_ path: String) throws {
        guard let msa = try AlignmentParsers.alignment(at: path) else { return }
        let query = String(msa.rows.first?.filter { $0 != "-" } ?? "")
        _ = try RawFeatures(query: ProteinFolding.FastaRecord(description: "query", sequence: query, line: 1), queryFile: path, alignments: [msa])
    }

    /// The first `count` SMILES of the bundled molecules (column `smiles` of molecules.csv).
    static func moleculeSMILES(_ s: FuzzSeeds, count: Int) throws -> [String] {
        let path = try s.file("Datasets/molecules/molecules.csv")
        let rows = String(decoding: try CompressedText.read(path), as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",") }
        guard let column = rows.first?.firstIndex(of: "smiles") else { throw FileError(file: path, line: 1, message: "no 'smiles' column") }
        return rows.dropFirst().prefix(count).map { String($0[column]) }
    }

    /// A DeepSpeed config as GenSLM's and DeepSpeed's examples write them (ZeRO-3 with NVMe offload).
    static let deepSpeedSeed = """
        {
          "train_micro_batch_size_per_gpu": 4,
          "gradient_accumulation_steps": 2,
          "gradient_clipping": 1.0,
          "zero_optimization": {
            "stage": 3,
            "overlap_comm": true,
            "contiguous_gradients": true,
            "sub_group_size": 1e9,
            "reduce_bucket_size": 5e8,
            "stage3_prefetch_bucket_size": 5e8,
            "stage3_param_persistence_threshold": 1e6,
            "offload_optimizer": {"device": "nvme", "nvme_path": "/tmp/nvme", "pin_memory": true},
            "offload_param": {"device": "cpu", "pin_memory": true}
          },
          "optimizer": {"type": "AdamW", "params": {"lr": 5e-5, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}},
          "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 0, "warmup_max_lr": 5e-5, "warmup_num_steps": 100}},
          "steps_per_print": 10,
          "wall_clock_breakdown": false
        }
        """

    /// 2q2k's atoms as PDB ATOM records (columns as the PDB format fixes them).
    static func pdbText(_ structure: ProteinStructure) -> String {
        var lines: [String] = [], serial = 1
        func padded(_ text: String, _ width: Int, right: Bool = true) -> String {
            let clipped = String(text.prefix(width))
            let padding = String(repeating: " ", count: width - clipped.count)
            return right ? padding + clipped : clipped + padding
        }
        for chain in structure.chains {
            for residue in chain.residues {
                for name in residue.atoms.keys.sorted() {
                    let p = residue.atoms[name]!
                    let atom = name.count < 4 ? " " + padded(name, 3, right: false) : padded(name, 4)
                    let coordinates = [p.x, p.y, p.z].map { padded(String(format: "%.3f", $0), 8) }.joined()
                    lines.append("ATOM  " + padded(String(serial), 5) + " " + atom + " " + padded(residue.name, 3) + " " + padded(chain.id, 1)
                                 + padded(String(residue.number), 4) + "    " + coordinates + "  1.00" + padded(String(format: "%.2f", residue.bFactors[name] ?? 0), 6))
                    serial += 1
                }
            }
        }
        return lines.joined(separator: "\n") + "\nEND\n"
    }

    /// MD17 (z, R, E, F) and rMD17 (nuclear_charges, coords, energies, forces) from GFN2-xTB ethanol frames.
    static func md17Seeds(_ s: FuzzSeeds) throws -> [String] {
        let frames = Array(try ExtendedXYZ.read(try s.file("Datasets/mlff/ethanol_gfn2xtb.extxyz")).prefix(4))
        let atoms = frames[0].system.numbers.count
        let positions = frames.flatMap { $0.system.positions.flatMap { [$0.x, $0.y, $0.z] } }
        let forces = frames.flatMap { ($0.forces ?? []).flatMap { [$0.x, $0.y, $0.z] } }
        let energies = frames.map { $0.energy ?? 0 }
        let md17 = s.path("md17.npz"), rmd17 = s.path("rmd17.npz")
        let numbers = Tensor(frames[0].system.numbers.map(Int64.init), shape: [atoms])
        let R = Tensor(positions, shape: [frames.count, atoms, 3]), F = Tensor(forces, shape: [frames.count, atoms, 3])
        try NumpyArchive.write([("z", NumpyArray(numbers)), ("R", NumpyArray(R)), ("E", NumpyArray(Tensor(energies, shape: [frames.count, 1]))),
                                ("F", NumpyArray(F))], to: md17)
        try NumpyArchive.write([("nuclear_charges", NumpyArray(numbers)), ("coords", NumpyArray(R)),
                                ("energies", NumpyArray(Tensor(energies, shape: [frames.count]))), ("forces", NumpyArray(F))], to: rmd17)
        return [md17, rmd17]
    }

    /// A WeatherBench-style netCDF-4 file: 2 m temperature on a 8 × 16 grid, 6 hours.
    /// A grid file read as a split larger than RAM reads it, frame by frame (the last first), then whole.
    static func readGrid(_ path: String) throws {
        let streamed = try GridShard.open(path: path, variables: nil, resident: false, recentBytes: 0)
        for name in streamed.variables {
            for t in (0..<streamed.frames).reversed() { _ = try streamed.frame(name, t) }
        }
        _ = try GridReader.read(path: path)
    }

    static func netCDFSeed(_ s: FuzzSeeds) throws -> String {
        let path = s.path("2m_temperature_1979_5.625deg.nc")
        let script = """
            import sys, numpy as np, netCDF4
            with netCDF4.Dataset(sys.argv[1], 'w') as d:
                d.createDimension('time', 6); d.createDimension('lat', 8); d.createDimension('lon', 16)
                t = d.createVariable('time', 'i8', ('time',)); t[:] = np.arange(6); t.units = 'hours since 1979-01-01'
                la = d.createVariable('lat', 'f8', ('lat',)); la[:] = np.linspace(-78.75, 78.75, 8)
                lo = d.createVariable('lon', 'f8', ('lon',)); lo[:] = np.arange(16) * 22.5
                v = d.createVariable('t2m', 'f4', ('time', 'lat', 'lon')); v.long_name = '2 metre temperature'
                v[:] = 280 + 10 * np.cos(np.radians(la[:]))[None, :, None] + np.sin(np.arange(6))[:, None, None]
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FileError(file: path, message: "netCDF4-python could not write the seed (Scripts/setup installs it)")
        }
        return path
    }
}

/// Models the weight and checkpoint formats need, built once.
final class ModelCache {
    private var alphaFoldModel: AlphaFold?

    func alphaFold() throws -> AlphaFold {
        if let alphaFoldModel { return alphaFoldModel }
        var preset = try AlphaFoldPreset("model_1_ptm")
        (preset.evoformerBlocks, preset.extraBlocks) = (1, 1)
        var generator = RandomGenerator(seed: 3)
        let model = AlphaFold(preset: preset, generator: &generator)
        alphaFoldModel = model
        return model
    }

    func checkpoint() throws -> Checkpoint {
        var generator = RandomGenerator(seed: 5)
        let weights: [(String, Tensor)] = [("embed.weight", [69, 16]), ("layers.0.attention.query_key_value.weight", [48, 16]),
                                           ("layers.0.attention.query_key_value.bias", [48]), ("final_layer_norm.weight", [16])].map { name, shape in
            (name, generator.normal(shape))
        }
        let moments = weights.flatMap { name, tensor in [(name + ".exp_avg", tensor * 0.1), (name + ".exp_avg_sq", tensor * tensor)] }
        return Checkpoint(parameters: weights, optimizerState: moments + [("step", Tensor([Float(12)], shape: [1]))],
                          generator: generator, step: 12, config: #"{"recipe": "smoke.yaml", "seed": 5}"#)
    }
}
