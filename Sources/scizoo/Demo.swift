// `scizoo demo`: a short end-to-end run of the foundation layers, the main job until the
// GenSLM recipes land: stream rows into an extendible gzip dataset, read them back block by
// block, reduce them with OpenBLAS, and record the result atomically.
import ArgumentParser
import Foundation
import Kernels
import TensorIO

#if canImport(Glibc)
import Glibc
#endif

struct Demo: SciZooCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write, stream back and reduce an HDF5 dataset (a smoke test of the runtime).")

    @Option(help: "Output HDF5 file.") var output: String = "runs/demo/demo.h5"
    @Option(help: "Rows to stream.") var rows: Int = 4096
    @Option(help: "Columns per row.") var columns: Int = 256

    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        guard rows > 0, columns > 0 else { throw ValidationError("--rows and --columns must be positive") }
    }

    func execute(budget: ThreadBudget) throws {
        print("thread budget: \(budget)")
        if let slash = output.lastIndex(of: "/") { try makeDirectories(String(output[..<slash])) }
        let blockRows = 512
        // Write: rows arrive in blocks, as a converter that does not know its length would see them.
        try HDF5File.writeAtomically(to: output) { file in
            let root = try file.root
            let values = try root.createDataset(
                "values", dtype: .float32, shape: [0, columns],
                options: .extendible(gzipLevel: 6, chunks: [blockRows, columns]))
            var generator = SplitMix64(seed: 42)
            var start = 0
            while start < rows {
                let count = min(blockRows, rows - start)
                let block = (0..<(count * columns)).map { _ in Float(generator.nextUnit() * 2 - 1) }
                try values.append(rows: block)
                start += count
            }
            try file.setAttribute("generator", .string("SplitMix64, seed 42, uniform in [-1, 1)"))
        }
        // Read back block by block and accumulate the Gram matrix XᵀX with OpenBLAS.
        let file = try HDF5File(path: output, mode: .readOnly)
        let values = try file.root.dataset("values")
        var gram = [Float](repeating: 0, count: columns * columns)
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            let block: [Float] = try values.read(offset: [start, 0], count: [count, columns])
            accumulateGram(block, rows: count, columns: columns, into: &gram)
            start += count
        }
        let trace = (0..<columns).reduce(0.0) { $0 + Double(gram[$1 * columns + $1]) }
        // E[x²] = 1/3 for x uniform in [-1, 1): the trace of XᵀX / rows is ≈ columns / 3.
        print("streamed \(rows) × \(columns) float32 rows through \(output) (gzip 6, chunks of \(blockRows) rows)")
        print(String(format: "trace(XᵀX)/rows = %.4f (expected ≈ %.4f for uniform [-1, 1))",
                     trace / Double(rows), Double(columns) / 3))
    }

    private func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw DemoError.directory(prefix)
            }
        }
    }

    enum DemoError: Error, CustomStringConvertible {
        case directory(String)
        var description: String {
            switch self {
            case .directory(let path): "cannot create directory \(path)"
            }
        }
    }
}

/// A small seedable generator for the demo's data (TensorCore's Philox is the project RNG).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
