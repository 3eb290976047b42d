// Runs the built `scizoo` binary as a user would.
import Foundation
import Kernels
import Testing
import TestSupport
import ProteinFolding
import TensorCore
import TensorIO

enum CLI {
    /// The `scizoo` executable built beside this test bundle.
    static var executable: String {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("scizoo").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            throw Missing()
        }
    }
    struct Missing: Error, CustomStringConvertible {
        var description: String { "the scizoo executable was not found beside the test bundle" }
    }

    static func run(_ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run(try executable, arguments)
    }

    /// The lines of a run's metrics.jsonl with its throughput entry `timing` (wall-clock, so never
    /// equal between runs) taken out, for comparing an interrupted run with an uninterrupted one.
    static func metricsWithoutTiming(_ runDirectory: String, timing: String) throws -> [String] {
        try String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { $0.replacingOccurrences(of: "\"\(timing)\":[^,}]*,?", with: "", options: .regularExpression) }
    }
}

@Suite("scizoo command line")
struct CLITests {
    @Test("--version and env")
    func versionAndEnvironment() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let environment = try CLI.run(["env", "--threads", "1"])
        #expect(environment.status == 0)
        for key in ["cores:", "thread budget: 1 thread(s) [command-line flag --threads", "OpenBLAS:", "HDF5:          1.",
                    "MPI:           Open MPI"] {
            #expect(environment.standardOutput.contains(key), "\(key)")
        }
        #expect(try CLI.run(["env", "--threads", "0"]).status != 0)
    }

    @Test("BLAS kernels: OpenBLAS's choice, OPENBLAS_CORETYPE kept, a generic core replaced after a self-test (also under mpirun), a failed self-test falls back")
    func blasKernelSelection() throws {
        let best = BLASSelection.best
        guard !best.isEmpty else { return }  // not x86-64: nothing to choose
        // Empty values clear what this test process may itself have been started with.
        let clean = ["OPENBLAS_CORETYPE": "", "SCIZOO_BLAS_PHASE": "", "SCIZOO_BLAS_DETECTED": "", "SCIZOO_BLAS_SELF_TEST_ERROR": "",
                     "SCIZOO_BLAS_TEST_START_CORE": "", "SCIZOO_BLAS_TEST_FAIL_SELF_TEST": ""]
        func kernels(_ settings: [String: String], mpirun: Bool = false) throws -> (lines: [String], warnings: String) {
            let environment = clean.merging(settings) { $1 }
            let result = mpirun
                ? try Subprocess.run("/usr/bin/env", ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", try CLI.executable, "env"],
                                     environment: environment)
                : try Subprocess.run(try CLI.executable, ["env"], environment: environment)
            #expect(result.status == 0, "\(settings): \(result.standardError)")
            let lines = result.standardOutput.split(separator: "\n").filter { $0.hasPrefix("BLAS kernels:") }
            return (lines.map { String($0.dropFirst("BLAS kernels:".count)).trimmingCharacters(in: .whitespaces) }, result.standardError)
        }
        let own = try kernels([:]).lines
        #expect(own.count == 1 && (own[0].hasPrefix("\(best) (OpenBLAS's choice") || own[0].hasPrefix("\(best) (chosen by SciZoo")), "\(own)")

        let kept = try kernels(["OPENBLAS_CORETYPE": "Prescott"]).lines
        #expect(kept == ["Prescott (OPENBLAS_CORETYPE set in the environment: kept; best for this CPU: \(best); CPU has \(BLASSelection.features))"])

        // Started on OpenBLAS's SSE3 kernels, as Debian's 0.3.21 does on CPUs newer than itself.
        let chosen = try kernels(["SCIZOO_BLAS_TEST_START_CORE": "Prescott"]).lines
        #expect(chosen.count == 1 && chosen[0].hasPrefix("\(best) (chosen by SciZoo: OpenBLAS picked Prescott") && chosen[0].contains("self-test passed"),
                "\(chosen)")
        let ranks = try kernels(["SCIZOO_BLAS_TEST_START_CORE": "Prescott"], mpirun: true).lines
        #expect(ranks.count == 2 && ranks.allSatisfy { $0.hasPrefix("\(best) (chosen by SciZoo") }, "\(ranks)")

        let failed = try kernels(["SCIZOO_BLAS_TEST_START_CORE": "Prescott", "SCIZOO_BLAS_TEST_FAIL_SELF_TEST": "1"])
        #expect(failed.lines.count == 1 && failed.lines[0].hasPrefix("Prescott (SciZoo's choice \(best) failed the GEMM self-test"), "\(failed.lines)")
        #expect(failed.warnings.contains("warning: OpenBLAS's \(best) kernels failed SciZoo's GEMM self-test"))
    }

    @Test("inspect lists every object of a file h5py wrote")
    func inspectH5pyFile() throws {
        let directory = try Fixtures.scratchDirectory("inspect")
        let path = directory.appendingPathComponent("h5py.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f.attrs["note"] = "hello"
                f.create_dataset("a/b/ids", data=np.zeros((10, 4), dtype=np.int64), chunks=(5, 4),
                                 compression="gzip", compression_opts=6, shuffle=True)
                f["a"].attrs["levels"] = np.arange(20, dtype=np.int32)
                f.create_dataset("names", data=["x", "y"], dtype=h5py.string_dtype())
                f.create_dataset("grow", shape=(0,), maxshape=(None,), dtype=np.float32)
            """, arguments: [path])
        let result = try CLI.run(["inspect", path])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.contains("/  group"))
        #expect(lines.contains("  @note: string (variable, UTF-8) scalar = \"hello\""))
        #expect(lines.contains("  a/  group"))
        #expect(lines.contains { $0.hasPrefix("    @levels: int32 [20] = [0, 1, 2, 3, 4, 5, 6, 7, … (20 values)]") })
        #expect(lines.contains("    b/  group"))
        #expect(lines.contains("      ids  dataset int64 [10, 4] chunks [5, 4] filters shuffle, gzip(6)"))
        #expect(lines.contains("  names  dataset string (variable, UTF-8) [2] contiguous"))
        #expect(lines.contains { $0.hasPrefix("  grow  dataset float32 [0] max [unlimited] chunks") })
        #expect(result.standardError.isEmpty)
    }

    @Test("inspect on a text, missing or truncated file prints one error line and exits non-zero")
    func inspectBadFiles() throws {
        let directory = try Fixtures.scratchDirectory("inspectbad")
        let text = directory.appendingPathComponent("notes.txt").path
        try "just text\n".write(toFile: text, atomically: true, encoding: .utf8)
        let good = directory.appendingPathComponent("good.h5").path
        _ = try Subprocess.python("""
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f.create_dataset("x", data=np.arange(100000, dtype=np.float64))
            """, arguments: [good])
        let truncated = directory.appendingPathComponent("truncated.h5").path
        try Data(contentsOf: URL(fileURLWithPath: good)).prefix(4096).write(to: URL(fileURLWithPath: truncated))
        let missing = directory.appendingPathComponent("missing.h5").path

        for (path, words) in [(text, "not an HDF5 file"), (missing, "no such file"), (truncated, "truncated")] {
            let result = try CLI.run(["inspect", path])
            #expect(result.status == 1, "\(path)")
            #expect(result.standardOutput.isEmpty)
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1, "one line, no HDF5 stack dump: \(result.standardError)")
            #expect(result.standardError.hasPrefix("scizoo inspect: error: \(path)"))
            #expect(result.standardError.contains(words), "\(result.standardError)")
        }
    }

    @Test("a bad flag is a usage error with the usage line; a bad file is one error line naming the command")
    func usageAndDataErrors() throws {
        let flag = try CLI.run(["climate-synth", "--days", "3", "--output", "/tmp/never-written"])
        #expect(flag.status == 64, "ArgumentParser's usage exit code: \(flag.standardError)")
        #expect(flag.standardError.contains("--days must be at least 10") && flag.standardError.contains("Usage: scizoo climate-synth"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written"))
        let weights = try CLI.run(["fold", "--fasta", "q.fa", "--weights", "w.npz", "--random-weights"])
        #expect(weights.status == 64 && weights.standardError.contains("exclude each other") && weights.standardError.contains("Usage: scizoo fold"))
        let data = try CLI.run(["fasta-to-h5", "--fasta", "/nonexistent/genes.fa", "--output-dir", "/tmp"])
        #expect(data.status == 1 && data.standardError.hasPrefix("scizoo fasta-to-h5: error: /nonexistent/genes.fa"), "\(data.standardError)")
        #expect(data.standardError.split(separator: "\n").count == 1)
    }

    // MPI is initialised in a fresh process: OpenMPI's singleton start forks, and forking a process
    // whose OpenBLAS threads are busy (as in the parallel test runner) hangs in OpenBLAS's at-fork
    // handler. The CLI initialises MPI before any BLAS work.
    @Test("without mpirun, mpi-check runs as a world of size 1 and passes every collective check")
    func mpiSingleton() throws {
        let result = try CLI.run(["mpi-check"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("mpi-check: 1 rank(s)"))
        #expect(result.standardOutput.contains("non-blocking forms") && result.standardOutput.contains("Ulysses attention")
                && result.standardOutput.contains("data-parallel Adam steps"))
    }

    @Test("the demo streams a file and reports its Gram trace")
    func demo() throws {
        let directory = try Fixtures.scratchDirectory("demo")
        let output = directory.appendingPathComponent("nested/demo.h5").path
        let result = try CLI.run(["demo", "--rows", "700", "--columns", "30", "--output", output, "--threads", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("streamed 700 × 30 float32 rows"))
        #expect(FileManager.default.fileExists(atPath: output))
    }

    @Test("fold on 2q2k with random weights writes a PDB of 70 residues whose B-factors are the pLDDT file's; without weights it refuses")
    func fold() throws {
        let fixture = Fixtures.shared("openfold/2q2k_A")
        let output = try Fixtures.scratchDirectory("fold").appendingPathComponent("out").path
        let arguments = ["fold", "--fasta", fixture.appendingPathComponent("2q2k_A.fasta").path,
                         "--alignments", fixture.appendingPathComponent("alignments/2q2k_A").path, "--output", output]
        let refused = try CLI.run(arguments)
        #expect(refused.status != 0 && refused.standardError.contains("--random-weights"), "\(refused.standardError)")
        // A parameter file that is not AlphaFold's: every missing array is named.
        let wrongWeights = try Fixtures.scratchDirectory("fold").appendingPathComponent("not-alphafold.npz").path
        try NumpyArchive.write([("some/other//weights", NumpyArray(Tensor.zeros([2, 2])))], to: wrongWeights)
        let wrong = try CLI.run(arguments + ["--weights", wrongWeights])
        #expect(wrong.status != 0 && wrong.standardError.contains("are missing")
                && wrong.standardError.contains("alphafold/alphafold_iteration/evoformer/preprocess_1d//weights"), "\(wrong.standardError)")
        let result = try CLI.run(arguments + ["--random-weights", "--recycles", "0", "--chunk-size", "16", "--cif"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("pass 1/1"))
        let pdb = output + "/2q2k_A_model_1_ptm_unrelaxed.pdb"
        let chain = try ProteinStructure.read(pdb).chain(nil)
        // Every heavy atom of every residue (atom14 slots in use), the same in the mmCIF file.
        let letters = Dictionary(uniqueKeysWithValues: ResidueConstants.threeLetter.enumerated().map { ($1, $0) })
        #expect(chain.residues.count == 70 && chain.residues.allSatisfy { $0.atoms.count == ResidueConstants.atom14Names[letters[$0.name]!].count })
        let mmcif = try ProteinStructure.read(output + "/2q2k_A_model_1_ptm_unrelaxed.cif").chain(nil)
        for (fromCIF, fromPDB) in zip(mmcif.residues, chain.residues) {
            #expect(fromCIF.name == fromPDB.name && fromCIF.atoms.count == fromPDB.atoms.count)
            for (name, position) in fromCIF.atoms {
                #expect(simd_distance(position, fromPDB.atoms[name] ?? .zero) < 0.002, "\(fromCIF.name) \(name)")
            }
        }
        let confidence = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/2q2k_A_model_1_ptm_confidence.json"))) as! [String: Any]
        let plddt = confidence["plddt"] as! [Double]
        #expect(plddt.count == 70 && (confidence["predicted_aligned_error"] as! [Double]).count == 4_900)
        // The B-factor column holds pLDDT (to the column's two decimals).
        #expect(zip(chain.residues, plddt).allSatisfy { residue, value in residue.bFactors.values.allSatisfy { abs($0 - value) < 0.006 } })
        // Backbone geometry of the idealised frame: N at (−0.525, 1.363, 0), C at (1.526, 0, 0) from Cα.
        let first = chain.residues[0].atoms
        #expect(abs(simd_distance(first["N"]!, first["CA"]!) - (0.525 * 0.525 + 1.363 * 1.363).squareRoot()) < 0.002 && abs(simd_distance(first["CA"]!, first["C"]!) - 1.526) < 0.002)
        #expect(FileManager.default.fileExists(atPath: output + "/timings.json"))
    }

    @Test("fold --templates reads the .hhr hits and the mmCIF folder, uses the template (model_1 only), and names bad input")
    func foldWithTemplates() throws {
        let fixture = Fixtures.shared("openfold/2q2k_A")
        let scratch = try Fixtures.scratchDirectory("fold-templates")
        let alignments = scratch.appendingPathComponent("alignments").path
        try FileManager.default.createDirectory(atPath: alignments, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: fixture.appendingPathComponent("alignments/2q2k_A").path) {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent("alignments/2q2k_A/" + file).path, toPath: alignments + "/" + file)
        }
        // One HHsearch hit: chain B of the same entry over the query's first 60 residues.
        let query = try AlignmentParsers.query(fastaAt: fixture.appendingPathComponent("2q2k_A.fasta").path).sequence
        let piece = String(query.prefix(60))
        try """
            Query         2q2k_A
            Match_columns 70

             No Hit                             Prob E-value P-value  Score    SS Cols Query HMM  Template HMM

            No 1
            >2Q2K_B Hypothetical protein/DNA Complex
            Probab=99.90  E-value=1e-20  Score=120.00  Aligned_cols=60  Identities=100%  Similarity=1.000  Sum_probs=58.0  Template_Neff=1.000

            Q 2q2k_A            1 \(piece)   60 (70)
            T 2Q2K_B            1 \(piece)   60 (70)

            """.write(toFile: alignments + "/pdb70_hits.hhr", atomically: true, encoding: .utf8)
        let base = ["fold", "--fasta", fixture.appendingPathComponent("2q2k_A.fasta").path, "--alignments", alignments, "--random-weights",
                    "--recycles", "0", "--preset", "model_1"]
        let with = try CLI.run(base + ["--templates", fixture.appendingPathComponent("ground_truth").path, "--output", scratch.path + "/with"])
        #expect(with.status == 0 && with.standardOutput.contains("templates: 1 used (2q2k_B)"), "\(with.standardOutput)\(with.standardError)")
        let without = try CLI.run(base + ["--output", scratch.path + "/without"])
        #expect(without.status == 0 && !without.standardOutput.contains("templates:"), "\(without.standardError)")
        func plddt(_ folder: String) throws -> [Double] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/2q2k_A_model_1_confidence.json")))
            return (json as! [String: Any])["plddt"] as! [Double]
        }
        #expect(try plddt(scratch.path + "/with") != plddt(scratch.path + "/without"), "the template changes the prediction")
        let pdb = try String(contentsOfFile: scratch.path + "/with/2q2k_A_model_1_unrelaxed.pdb", encoding: .utf8)
        #expect(pdb.contains("PARENT 2q2k_B"))
        // A preset without a template stack, and a folder without mmCIF files, are refused with the reason.
        let noStack = try CLI.run(base.dropLast() + ["model_3", "--templates", fixture.appendingPathComponent("ground_truth").path])
        #expect(noStack.status != 0 && noStack.standardError.contains("no template stack"), "\(noStack.standardError)")
        let empty = try CLI.run(base + ["--templates", alignments, "--output", scratch.path + "/empty"])
        #expect(empty.status != 0 && empty.standardError.contains("no .cif files"), "\(empty.standardError)")
    }

    @Test("fold-finetune on a 2q2k crop prints the loss terms and gradient coverage per step, writes metrics.jsonl and checkpoints, resumes; it needs weights")
    func foldFineTune() throws {
        let fixture = Fixtures.shared("openfold/2q2k_A")
        let run = try Fixtures.scratchDirectory("fold-finetune").appendingPathComponent("run").path
        let arguments = ["fold-finetune", "--fasta", fixture.appendingPathComponent("2q2k_A.fasta").path,
                         "--alignments", fixture.appendingPathComponent("alignments/2q2k_A").path,
                         "--structure", fixture.appendingPathComponent("ground_truth/2q2k.cif").path, "--chain", "A"]
        let refused = try CLI.run(arguments)
        #expect(refused.status != 0 && refused.standardError.contains("--random-weights"), "\(refused.standardError)")
        let result = try CLI.run(arguments + ["--random-weights", "--evoformer-blocks", "1", "--steps", "2", "--crop", "10",
                                              "--clusters", "4", "--extra", "4", "--warmup-steps", "0", "--run-dir", run, "--stop-at-step", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("step 1/2") && result.standardOutput.contains("fape_sidechain")
                && result.standardOutput.contains("parameter tensors with a gradient"))
        // Stopped after step 1, resumed to step 2 on the production optimiser path, with checkpoints.
        let resumed = try CLI.run(arguments + ["--random-weights", "--evoformer-blocks", "1", "--steps", "2", "--crop", "10",
                                               "--clusters", "4", "--extra", "4", "--warmup-steps", "0", "--run-dir", run, "--resume"])
        #expect(resumed.status == 0 && resumed.standardOutput.contains("at step 1") && resumed.standardOutput.contains("step 2/2"), "\(resumed.standardError)")
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("\"fape_backbone\"") && $0.contains("\"parameters_with_gradient\"") })
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoints/last.h5"))
    }

    @Test("protein-metrics compares two chains, writes JSON, and asks for --chain when the reference has several")
    func proteinMetrics() throws {
        let cif = Fixtures.shared("openfold/2q2k_A/ground_truth/2q2k.cif").path
        let json = try Fixtures.scratchDirectory("protein-metrics").appendingPathComponent("metrics.json").path
        let result = try CLI.run(["protein-metrics", "--model", cif, "--model-chain", "B", "--reference", cif, "--chain", "A", "--json", json])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("44 of 45 residues paired") && result.standardOutput.contains("TM-score 0.93"))
        let decoded = try JSONDecoder().decode([String: AnyDecodableNumberOrArray].self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(decoded["pairedResidues"] != nil && decoded["perResidueLDDT"] != nil)
        let ambiguous = try CLI.run(["protein-metrics", "--model", cif, "--reference", cif])
        #expect(ambiguous.status != 0)
        #expect(ambiguous.standardError.contains("2 protein chains (A, B); choose one with --chain"), "\(ambiguous.standardError)")
    }
}

/// A JSON value that is a number or an array of numbers (enough to check the metrics file's keys).
enum AnyDecodableNumberOrArray: Decodable {
    case number(Double), array([Double])
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) { self = .number(value) } else { self = .array(try container.decode([Double].self)) }
    }
}

func simd_distance(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }
