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
        let splits = names.indices.filter { assignment.contains($0) }
        let paths = splits.map { "\(outputDirectory)/\(stem.isEmpty ? "sequences" : stem)_\(names[$0]).h5" }
        var written = [Int](repeating: 0, count: names.count), total = 0
        // Pass 2: one streamed, tokenising pass feeds every split's file (each written atomically).
        try HDF5File.writeAtomically(paths) { files in
            var writers: [Int: SplitWriter] = [:]
            for (file, index) in zip(files, splits) {
                writers[index] = try SplitWriter(file: file, blockSize: blockSize, split: names[index], seed: seed,
                                                 source: URL(fileURLWithPath: fasta).lastPathComponent, tokenizer: tokenizer)
            }
            let reader = try FastaReader(path: fasta)
            for (position, record) in reader.enumerated() {
                let index = assignment[position]
                try writers[index]!.add(record, tokenizer: tokenizer)
                written[index] += 1
                total += 1
                if total % 256 == 0 { progress?(total) }
            }
            if let error = reader.error { throw error }
            for writer in writers.values { try writer.flush(tokenizer: tokenizer) }
        }
        return zip(paths, splits).map { ($0, written[$1]) }
    }
}

/// One split's file of GenSLM's layout, filled 256 records at a time.
final class SplitWriter {
    let ids: HDF5Dataset, masks: HDF5Dataset, idStrings: HDF5Dataset, descriptions: HDF5Dataset, sequences: HDF5Dataset
    let blockSize: Int
    var batch: [FastaRecord] = []

    init(file: HDF5File, blockSize: Int, split: String, seed: UInt64, source: String, tokenizer: CodonTokenizer) throws {
        self.blockSize = blockSize
        let root = try file.root
        let rows = HDF5DatasetOptions.extendible(gzipLevel: 6, chunks: [64, blockSize])
        let strings = HDF5DatasetOptions(chunks: [256], gzipLevel: 6, shuffle: false, maxShape: [nil])
        ids = try root.createDataset("input_ids", dtype: .int64, shape: [0, blockSize], options: rows)
        masks = try root.createDataset("attention_mask", dtype: .int64, shape: [0, blockSize], options: rows)
        idStrings = try root.createDataset("id", dtype: .variableString(utf8: true), shape: [0], options: strings)
        descriptions = try root.createDataset("description", dtype: .variableString(utf8: true), shape: [0], options: strings)
        sequences = try root.createDataset("sequence", dtype: .variableString(utf8: true), shape: [0], options: strings)
        try file.setAttribute("block_size", .int(Int64(blockSize)))
        try file.setAttribute("source", .string(source))
        try file.setAttribute("split", .string(split))
        try file.setAttribute("split_seed", .int(Int64(seed)))
        try file.setAttribute("tokenizer", .string(tokenizer.name))
        try file.setAttribute("tokenizer_fingerprint", .string(tokenizer.fingerprint))
    }

    /// Adds a record, writing every 256.
    func add(_ record: FastaRecord, tokenizer: CodonTokenizer) throws {
        batch.append(record)
        if batch.count == 256 { try flush(tokenizer: tokenizer) }
    }

    func flush(tokenizer: CodonTokenizer) throws {
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
        batch.removeAll(keepingCapacity: true)
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
        // A damaged header must not size the epoch order or a batch: no genome dataset has 2³² rows
        // or blocks of 2²⁰ tokens (GenSLM's are ≤ 2,048 codons).
        guard shape[0] <= 1 << 32, (1...(1 << 20)).contains(shape[1]) else {
            throw HDF5Error(.shapeMismatch, file: path, object: "/input_ids", operation: "open a GenSLM dataset",
                            messages: ["shape \(shape) is not a GenSLM dataset's [N ≤ 2³², block ≤ 2²⁰] (a damaged file?)"])
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
