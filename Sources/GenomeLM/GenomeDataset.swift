// FASTA → HDF5 in GenSLM's layout (port of the semantics of genslm/cmdline/single_fasta_to_h5.py,
// with attention_mask always written), and a reader of such files by hyperslab.
import Foundation
import ParallelRuntime
import TensorCore
import TensorIO

/// Train/validation/test fractions of a split.
public struct DatasetSplit: Sendable {
    public var train: Double, validation: Double, test: Double

    public init(train: Double, validation: Double, test: Double) {
        self.train = train
        self.validation = validation
        self.test = test
    }

    /// GenSLM's `-tvts`: 0.8 / 0.1 / 0.1.
    public static let standard = DatasetSplit(train: 0.8, validation: 0.1, test: 0.1)
}

public enum GenomeDatasetWriter {
    /// Writes `<stem>_train.h5`, `<stem>_val.h5` and `<stem>_test.h5` (empty splits are skipped)
    /// with `input_ids` and `attention_mask` int64 `[N, block]`, and `id`, `description`,
    /// `sequence` variable-length UTF-8 `[N]`, chunked with gzip 6. Records are assigned to
    /// splits by a seeded permutation; each file is written atomically.
    /// - Returns: the files written with their record counts.
    @discardableResult
    public static func convert(fasta: String, tokenizer: CodonTokenizer, blockSize: Int, outputDirectory: String,
                               split: DatasetSplit = .standard, seed: UInt64 = 42,
                               progress: ((Int) -> Void)? = nil) throws -> [(path: String, records: Int)] {
        // Pass 1: count records (streamed) so that the split needs no copy of the data in memory.
        var count = 0
        do {
            let reader = try FastaReader(path: fasta)
            for _ in reader { count += 1 }
            if let error = reader.error { throw error }
        }
        var generator = RandomGenerator(seed: seed)
        let order = generator.permutation(count)
        let trainEnd = Int((Double(count) * split.train).rounded())
        let validationEnd = Swift.min(count, trainEnd + Int((Double(count) * split.validation).rounded()))
        var assignment = [Int](repeating: 2, count: count)
        for (position, record) in order.enumerated() {
            assignment[record] = position < trainEnd ? 0 : (position < validationEnd ? 1 : 2)
        }
        let stem = URL(fileURLWithPath: fasta).lastPathComponent.replacingOccurrences(of: ".gz", with: "")
            .split(separator: ".").dropLast().joined(separator: ".")
        let names = ["train", "val", "test"]
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        var results: [(String, Int)] = []
        // Pass 2: one streamed pass per split keeps every file's writer simple and atomic.
        for (index, name) in names.enumerated() where assignment.contains(index) {
            let path = "\(outputDirectory)/\(stem.isEmpty ? "sequences" : stem)_\(name).h5"
            var written = 0
            try HDF5File.writeAtomically(to: path) { file in
                let root = try file.root
                let rows = HDF5DatasetOptions.extendible(gzipLevel: 6, chunks: [64, blockSize])
                let strings = HDF5DatasetOptions(chunks: [256], gzipLevel: 6, shuffle: false, maxShape: [nil])
                let ids = try root.createDataset("input_ids", dtype: .int64, shape: [0, blockSize], options: rows)
                let masks = try root.createDataset("attention_mask", dtype: .int64, shape: [0, blockSize], options: rows)
                let idStrings = try root.createDataset("id", dtype: .variableString(utf8: true), shape: [0], options: strings)
                let descriptions = try root.createDataset("description", dtype: .variableString(utf8: true), shape: [0], options: strings)
                let sequences = try root.createDataset("sequence", dtype: .variableString(utf8: true), shape: [0], options: strings)
                try file.setAttribute("block_size", .int(Int64(blockSize)))
                try file.setAttribute("source", .string(URL(fileURLWithPath: fasta).lastPathComponent))
                try file.setAttribute("split", .string(name))
                try file.setAttribute("split_seed", .int(Int64(seed)))
                let reader = try FastaReader(path: fasta)
                var batch: [FastaRecord] = []
                func flush() throws {
                    guard !batch.isEmpty else { return }
                    var idValues: [Int64] = [], maskValues: [Int64] = []
                    for record in batch {
                        let encoded = tokenizer.encode(record.sequence, blockSize: blockSize)
                        idValues += encoded.inputIDs
                        maskValues += encoded.attentionMask
                    }
                    try ids.append(rows: idValues)
                    try masks.append(rows: maskValues)
                    try idStrings.append(strings: batch.map(\.id))
                    try descriptions.append(strings: batch.map(\.description))
                    try sequences.append(strings: batch.map { $0.sequence.uppercased() })
                    written += batch.count
                    progress?(written)
                    batch.removeAll(keepingCapacity: true)
                }
                for (position, record) in reader.enumerated() where assignment[position] == index {
                    batch.append(record)
                    if batch.count == 256 { try flush() }
                }
                if let error = reader.error { throw error }
                try flush()
            }
            results.append((path, written))
        }
        return results
    }
}

/// Batches of a GenSLM HDF5 file read by hyperslab: shuffled by seed, sharded by data-parallel rank.
public struct GenomeBatchReader {
    public let file: HDF5File
    public let count: Int
    public let blockSize: Int

    public init(path: String) throws {
        file = try HDF5File(path: path)
        let shape = try file.root.dataset("input_ids").shape
        guard shape.count == 2, try file.root.dataset("attention_mask").shape == shape else {
            throw HDF5Error(.shapeMismatch, file: path, object: "/input_ids", operation: "open a GenSLM dataset",
                            messages: ["expected input_ids and attention_mask of one [N, block] shape"])
        }
        count = shape[0]
        blockSize = shape[1]
    }

    /// The order of one epoch on one data-parallel rank: a seeded permutation, every rank
    /// taking every `worldSize`-th index from `rank` (the remainder is dropped so ranks agree).
    public func epochOrder(epoch: Int, seed: UInt64, rank: Int = 0, worldSize: Int = 1) -> [Int] {
        DistributedSampler(count: count, seed: seed, dataParallelRank: rank, dataParallelSize: worldSize).indices(epoch: epoch)
    }

    /// Rows `indices` as int64 tensors `[n, block]` (input ids, attention mask).
    public func batch(_ indices: [Int]) throws -> (inputIDs: Tensor, attentionMask: Tensor) {
        let ids = try file.root.dataset("input_ids"), masks = try file.root.dataset("attention_mask")
        var idValues: [Int64] = [], maskValues: [Int64] = []
        for index in indices {
            idValues += try ids.read(as: Int64.self, offset: [index, 0], count: [1, blockSize])
            maskValues += try masks.read(as: Int64.self, offset: [index, 0], count: [1, blockSize])
        }
        return (Tensor(idValues, shape: [indices.count, blockSize]), Tensor(maskValues, shape: [indices.count, blockSize]))
    }
}
