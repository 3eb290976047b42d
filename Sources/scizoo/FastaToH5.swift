// `scizoo fasta-to-h5`: FASTA (plain or gzip) → HDF5 in GenSLM's layout, split train/val/test.
import ArgumentParser
import Foundation
import GenomeLM
import Kernels

struct FastaToH5: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "fasta-to-h5",
        abstract: "Tokenise a FASTA file into GenSLM's HDF5 layout (input_ids, attention_mask, id, description, sequence).",
        discussion: """
            Writes <stem>_train.h5, <stem>_val.h5 and <stem>_test.h5 into --output-dir, each atomically. Unlike \
            upstream's folder path, attention_mask is always written. Records are split by a seeded permutation.
            """)

    @Option(help: "FASTA file (.fa, .fasta, .ffn, or any of them .gz).") var fasta: String
    @Option(help: "Hugging Face tokenizer JSON (default: SciZoo's own codon vocabulary).") var tokenizer: String?
    @Option(help: "Tokens per row (GenSLM: 2048 for genes, 10240 for SARS-CoV-2 genomes).") var blockSize: Int = 2048
    @Option(help: "Output folder.") var outputDir: String = "."
    @Option(help: "train,val,test fractions.") var split: String = "0.8,0.1,0.1"
    @Option(help: "Seed of the split.") var seed: UInt64 = 42

    func validate() throws {
        let parts = split.split(separator: ",").compactMap { Double($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 >= 0 }), abs(parts.reduce(0, +) - 1) < 1e-9 else {
            throw ValidationError("--split must be three non-negative fractions adding up to 1, e.g. 0.8,0.1,0.1; got '\(split)'")
        }
        guard blockSize >= 2 else { throw ValidationError("--block-size must be at least 2") }
    }

    func execute(budget: ThreadBudget) throws {
        let parts = split.split(separator: ",").compactMap { Double($0) }
        let vocabulary = try tokenizer.map { try CodonTokenizer.load(from: $0) } ?? .standard
        let interactive = isatty(1) != 0
        let results = try GenomeDatasetWriter.convert(
            fasta: fasta, tokenizer: vocabulary, blockSize: blockSize, outputDirectory: outputDir,
            split: DatasetSplit(train: parts[0], validation: parts[1], test: parts[2]), seed: seed,
            progress: { written in
                if interactive {
                    print("\rtokenised \(written) records", terminator: "")
                    fflush(nil)
                } else if written % 25_600 == 0 {
                    print("tokenised \(written) records")
                }
            })
        if interactive { print("") }
        for (path, records) in results { print("wrote \(path): \(records) records × \(blockSize) tokens") }
    }
}
