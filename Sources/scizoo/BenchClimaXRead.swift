// `scizoo bench climax-read`: ClimaX's forecast-pair reader over a split folder or file, in the
// shuffled order training uses, with the process's resident memory along the way: a split larger
// than the memory limit (a 0.25° year; Scripts/bench-larger-than-ram makes one of 2× RAM) is read
// frame by frame at flat memory.
import ArgumentParser
import ClimateForecasting
import Foundation
import Kernels
import ParallelRuntime

struct BenchClimaXRead: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "climax-read",
        abstract: "Reads forecast pairs of a ClimaX split through the training reader, reporting samples/s and resident memory.",
        discussion: """
            Batches of --batch (input, target) pairs --lead-hours apart, in the seeded shuffled order of training (a shuffle \
            buffer of --buffer-size samples, as upstream). Every tenth of the samples prints samples read, bytes read, RSS and \
            peak RSS (VmHWM).
            """)

    @Option(help: "A split folder of ClimaX HDF5 shards, or one file.") var data: String
    @Option(parsing: .upToNextOption, help: "Input variables (default: every variable of the first file).") var variables: [String] = []
    @Option(parsing: .upToNextOption, help: "Output variables (default: the inputs).") var outVariables: [String] = []
    @Option(help: "Hours between input and target.") var leadHours: Int = 6
    @Option(help: "Samples a batch.") var batch: Int = 4
    @Option(help: "The shuffle buffer, in samples.") var bufferSize: Int = 64
    @Option(help: "Read at most this many samples (default: all).") var samples: Int?
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        printBenchHeader(budget, log: { print($0) })
        let before = ResidentMemory.current()
        var inputs = variables
        if inputs.isEmpty {
            var isDirectory: ObjCBool = false
            let first = FileManager.default.fileExists(atPath: data, isDirectory: &isDirectory) && isDirectory.boolValue ? try firstShard() : data
            inputs = try GridReader.variableNames(path: first)
        }
        let outputs = outVariables.isEmpty ? inputs : outVariables
        let dataset = try ForecastDataset(directory: data, variables: inputs, outVariables: outputs, leadHours: leadHours)
        let order = dataset.batches(epoch: 0, batchSize: batch, shuffle: true, bufferSize: bufferSize, seed: 0)
        let total = Swift.min(samples ?? order.count * batch, order.count * batch)
        let frameBytes = dataset.height * dataset.width * MemoryLayout<Float>.size
        let sampleBytes = (inputs.count + outputs.count) * frameBytes
        print("\(data): \(dataset.shards.count) shard(s), \(dataset.pairs.count) pairs on a \(dataset.height)×\(dataset.width) grid, "
              + "\(inputs.count) inputs and \(outputs.count) outputs (\(String(format: "%.1f", Double(sampleBytes) / 1e6)) MB a sample); "
              + (dataset.isStreamed ? "streamed frame by frame" : "held whole") + "; reading \(total) samples in batches of \(batch)")
        print(String(format: "before opening: RSS %.0f MiB; opened: RSS %.0f MiB", Double(before.resident) / 1_048_576,
                     Double(ResidentMemory.current().resident) / 1_048_576))
        var done = 0, values = 0, progress = ReadProgress(total: total, unit: "samples", bytesEach: sampleBytes)
        for indices in order where done < total {
            let (x, y, _) = try dataset.batch(Array(indices.prefix(total - done)))
            values += x.count + y.count
            done += Swift.min(indices.count, total - done)
            progress.reached(done)
        }
        precondition(values == total * sampleBytes / MemoryLayout<Float>.size, "bench climax-read: read \(values) values of \(total) samples")
    }

    private func firstShard() throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasSuffix(".h5") || $0.hasSuffix(".nc") }.sorted()
        guard let first = names.first else { throw ValidationError("\(data): no .h5 or .nc shards in this folder") }
        return data + "/" + first
    }
}
