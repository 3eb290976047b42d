// `scizoo bench genslm-read`: GenSLM's HDF5 reader over a whole file, in training order or in row
// order, with the process's resident memory along the way: a file larger than RAM (sparse or
// compressed on disk, Scripts/bench-larger-than-ram makes one) is read at flat memory.
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import ParallelRuntime

struct BenchGenSLMRead: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-read",
        abstract: "Reads every row of a GenSLM HDF5 file through the training reader, reporting rows/s and resident memory.",
        discussion: """
            Batches of --batch rows, in row order or (--shuffled) in the seeded epoch order training uses. \
            Every tenth of the file prints rows read, logical bytes read, RSS and peak RSS (VmHWM).
            """)

    @Option(help: "A GenSLM HDF5 file (input_ids and attention_mask, [N, block]).") var file: String
    @Option(help: "Rows a batch.") var batch: Int = 64
    @Option(help: "Read at most this many rows (default: all).") var rows: Int?
    @Flag(help: "The seeded epoch order of training instead of row order.") var shuffled = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget, log: { print($0) })
        let reader = try GenomeBatchReader(path: file)
        let total = Swift.min(rows ?? reader.count, reader.count)
        let rowBytes = 2 * 8 * reader.blockSize
        print("\(file): \(reader.count) rows × \(reader.blockSize) tokens (\(String(format: "%.1f", Double(reader.count * rowBytes) / 1e9)) GB "
              + "as int64 input_ids and attention_mask); reading \(total) rows in batches of \(batch)\(shuffled ? ", epoch order" : "")")
        let order = shuffled ? reader.epochOrder(epoch: 0, seed: 0) : []
        var done = 0, tokens = 0, progress = ReadProgress(total: total, unit: "rows", bytesEach: rowBytes)
        let before = ResidentMemory.current()
        print(String(format: "before reading: RSS %.0f MiB, peak %.0f MiB", Double(before.resident) / 1_048_576, Double(before.peak) / 1_048_576))
        while done < total {
            let end = Swift.min(total, done + batch)
            let indices = shuffled ? Array(order[done..<end]) : Array(done..<end)
            let (ids, _) = try reader.batch(indices)
            tokens += ids.count
            done = end
            progress.reached(done)
        }
        precondition(tokens == total * reader.blockSize, "bench genslm-read: read \(tokens) tokens of \(total) rows")
    }
}
