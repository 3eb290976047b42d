// GenSLM commands: find-genes (genome → gene FASTA) and genslm-train (a GenSLM YAML recipe).
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import Recipes

struct FindGenes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find-genes",
        abstract: "Write the open reading frames (ATG…stop, both strands) of a genome FASTA as a gene FASTA.")

    @Option(help: "Genome FASTA (.fa or .fa.gz); every record is scanned.") var genome: String
    @Option(help: "Minimum ORF length in bases, stop codon included.") var minLength: Int = 300
    @Option(help: "Output FASTA.") var output: String

    func run() throws {
        do {
            var lines: [String] = []
            var count = 0
            for record in try FastaReader.readAll(path: genome) {
                for orf in GeneFinder.openReadingFrames(in: record.sequence, minimumLength: minLength) {
                    count += 1
                    lines.append(">\(record.id)_orf\(count) \(record.id):\(orf.start + 1)-\(orf.end)(\(orf.strand)) length=\(orf.sequence.count)")
                    var index = orf.sequence.startIndex
                    while index < orf.sequence.endIndex {
                        let next = orf.sequence.index(index, offsetBy: 70, limitedBy: orf.sequence.endIndex) ?? orf.sequence.endIndex
                        lines.append(String(orf.sequence[index..<next]))
                        index = next
                    }
                }
            }
            let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // Written to a temporary name and renamed: a kill never leaves half a FASTA behind the name.
            try (lines.joined(separator: "\n") + "\n").write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output): \(count) genes of at least \(minLength) bases from \(genome)")
        } catch {
            throw fail("find-genes", error)
        }
    }
}

struct GenSLMTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-train",
        abstract: "Train a GenSLM GPT-NeoX model from a GenSLM YAML recipe (ModelSettings keys).",
        discussion: "Outputs go to --run-dir: metrics.jsonl, loss.svg and checkpoint_dir/last.h5 (written atomically).")

    @Option(help: "GenSLM YAML recipe.") var config: String
    @Option(help: "Run folder for metrics, the loss curve and (relative) checkpoints.") var runDir: String = "runs/genslm"
    @Flag(help: "Resume from checkpoint_dir/last.h5 when it exists.") var resume = false
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        let budget = ThreadBudget.install(requested: threadOptions.threads)
        do {
            let settings = try GenSLMSettings.load(from: config)
            print("thread budget: \(budget)")
            let summary = try GenSLMTrainer(settings: settings, runDirectory: runDir).run(resume: resume)
            print(String(format: "trained %d steps: train loss %.4f%@, %.0f tokens/s", summary.steps, summary.finalTrainLoss,
                         summary.finalValidationLoss.map { String(format: ", val loss %.4f", $0) } ?? "", summary.tokensPerSecond))
            print("checkpoint: \(summary.checkpoint)")
            print("metrics:    \(summary.metrics)")
            print("loss curve: \(summary.lossCurve)")
        } catch {
            throw fail("genslm-train", error)
        }
    }
}
