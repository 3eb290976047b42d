// GenSLM commands: find-genes (genome → gene FASTA) and genslm-train (a GenSLM YAML recipe).
import ArgumentParser
import Foundation
import GenomeLM
import Kernels
import ParallelRuntime
import Recipes
import TensorCore
import TensorIO

struct FindGenes: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "find-genes",
        abstract: "Write the open reading frames (ATG…stop, both strands) of a genome FASTA as a gene FASTA.")

    @Option(help: "Genome FASTA (.fa or .fa.gz); every record is scanned.") var genome: String
    @Option(help: "Minimum ORF length in bases, stop codon included.") var minLength: Int = 300
    @Option(help: "Output FASTA.") var output: String

    func execute(budget: ThreadBudget) throws {
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
    }
}

struct GenSLMTrain: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-train",
        abstract: "Train a GenSLM GPT-NeoX model from a GenSLM YAML recipe (ModelSettings keys).",
        discussion: """
            Outputs go to --run-dir: metrics.jsonl, loss.svg and checkpoint_dir/last.h5 (written atomically). \
            Under `mpirun -np N` the ranks split batches (data parallelism) and, with --sequence-parallel-size P, \
            each sequence (Ulysses); every rank checks that all ranks run the same recipe and flags.
            """)

    @Option(help: "GenSLM YAML recipe.") var config: String
    @Option(help: "Run folder for metrics, the loss curve and (relative) checkpoints.") var runDir: String = "runs/genslm"
    @Option(help: "Ranks that split each sequence (DeepSpeed's sequence_parallel_size; default: the recipe's, else 1).")
    var sequenceParallelSize: Int?
    @Option(help: "Ranks that split each batch (DeepSpeed's data_parallel_size; default: ranks / sequence-parallel size).")
    var dataParallelSize: Int?
    @OptionGroup var training: TrainingRunOptions

    func execute(budget: ThreadBudget) throws {
        let (world, log) = try training.launch()
        do {
            let settings = try GenSLMSettings.load(from: config)
            let sp = sequenceParallelSize ?? settings.sequenceParallelSize, dp = dataParallelSize ?? settings.dataParallelSize
            // The recipe as read, the layout and the flags that change the run: the same on every rank, or no run.
            let groups = try training.processGroups(world: world, configuration: [settings.json, "sp=\(sp.map(String.init) ?? "-")",
                                                                                  "dp=\(dp.map(String.init) ?? "-")", runDir],
                                                    sequenceParallelSize: sp, dataParallelSize: dp)
            log("thread budget: \(budget)" + (world.map { "; \($0.size) MPI rank(s)" } ?? ""))
            let trainer = GenSLMTrainer(settings: settings, runDirectory: runDir, groups: groups, showsProgress: log.isActive,
                                        log: { log($0) })
            let summary = try trainer.run(resume: training.resume, stopAtStep: training.stopAtStep, skipNonFinite: training.skipNonFinite,
                                          activationCheckpointing: training.activationCheckpointing)
            log(String(format: "trained %d steps: train loss %.4f%@, %.0f tokens/s", summary.steps, summary.finalTrainLoss,
                       summary.finalValidationLoss.map { String(format: ", val loss %.4f", $0) } ?? "", summary.tokensPerSecond))
            log("checkpoint: \(summary.checkpoint)")
            log("metrics:    \(summary.metrics)")
            log("loss curve: \(summary.lossCurve)")
        } catch {
            throw failOnRank("genslm-train", error, world: world)
        }
    }
}

/// The options that find a trained GenSLM model: its recipe, run folder and checkpoint.
struct TrainedModelOptions: ParsableArguments {
    @Option(help: "The GenSLM YAML recipe the model was trained with.") var config: String
    @Option(help: "The run folder of genslm-train.") var runDir: String = "runs/genslm"
    @Option(help: "A checkpoint (default: <run-dir>/<checkpoint_dir>/last.h5).") var checkpoint: String?

    func load() throws -> GenSLMTrainedModel {
        try GenSLMTrainedModel.load(settings: try GenSLMSettings.load(from: config), runDirectory: runDir, checkpoint: checkpoint)
    }
}

struct GenSLMGenerate: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-generate",
        abstract: "Sample new gene sequences from a trained GenSLM model (top-k, top-p, temperature) into a FASTA file.")

    @OptionGroup var trained: TrainedModelOptions
    @Option(help: "Sequences to generate.") var num: Int = 5
    @Option(help: "Prompt (DNA).") var prompt: String = "ATG"
    @Option(help: "Tokens per sequence, prompt included.") var maxTokens: Int = 64
    @Option var topK: Int = 50
    @Option var topP: Double = 0.95
    @Option var temperature: Double = 1.0
    @Flag(help: "Cut each sequence after its first stop codon.") var cutAtStop = false
    @Option(parsing: .upToNextOption, help: "FASTA files of known sequences: generated ones that match are drawn again.") var known: [String] = []
    @Option var seed: UInt64 = 0
    @Flag(help: "Re-run the whole prefix for every token instead of caching keys and values (same tokens, slower).") var noCache = false
    @Option(help: "Output FASTA.") var output: String

    func execute(budget: ThreadBudget) throws {
        let trained = try self.trained.load()
        var knownSequences = Set<String>()
        for file in known { for record in try FastaReader.readAll(path: file) { knownSequences.insert(record.sequence.uppercased()) } }
        var options = SamplingOptions()
        options.topK = topK
        options.topP = topP
        options.temperature = temperature
        options.maxTokens = maxTokens
        options.cutAtStopCodon = cutAtStop
        options.useCache = !noCache
        var generator = RandomGenerator(seed: seed)
        var found: [String] = []
        var attempts = 0
        while found.count < num {
            attempts += 1
            guard attempts <= 100 * num else {
                throw FileError(file: output, message: "only \(found.count) unique new sequences after \(attempts - 1) draws")
            }
            let sequence = trained.model.generate(prompt: prompt, tokenizer: trained.tokenizer, options: options, generator: &generator)
            if knownSequences.contains(sequence) || found.contains(sequence) { continue }
            found.append(sequence)
        }
        let text = found.enumerated().map { ">generated_\($0.offset + 1) prompt=\(prompt) seed=\(seed)\n\($0.element)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: output, atomically: true, encoding: .utf8)
        print("wrote \(output): \(found.count) sequences (\(attempts) draws) from \(trained.checkpoint)")
    }
}

struct GenSLMEmbed: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-embed",
        abstract: "Embed FASTA sequences with a trained GenSLM model: final-layer-norm states mean-pooled over real tokens, to HDF5.")

    @OptionGroup var trained: TrainedModelOptions
    @Option(help: "FASTA file (or .gz) to embed.") var fasta: String
    @Option(help: "Output HDF5 (embeddings, fasta-indices, na-hashes).") var output: String
    @Flag(help: "Also write every token's final-layer-norm state (token-states [N, block, hidden], token-lengths).")
    var perTokenStates = false
    @Flag(help: "Also write every token's logits (token-logits [N, block, vocab]).") var logits = false
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int? { threadOptions.threads }

    func execute(budget: ThreadBudget) throws {
        let trained = try self.trained.load()
        let records = try FastaReader.readAll(path: fasta)
        let outputs = records.map {
            trained.model.embeddingOutputs(of: $0.sequence, tokenizer: trained.tokenizer, blockSize: trained.blockSize, logits: logits)
        }
        let rows = outputs.map(\.mean)
        try GenSLMEmbeddingWriter.write(rows, indices: Array(0..<records.count), sequences: records.map(\.sequence), to: output,
                                        perToken: perTokenStates ? outputs.map(\.states) : nil,
                                        logits: logits ? outputs.compactMap(\.logits) : nil, blockSize: trained.blockSize)
        print("wrote \(output): \(records.count) embeddings of \(rows.first?.count ?? 0) values from \(trained.checkpoint)")
    }
}

struct GenSLMExport: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-export",
        abstract: "Export a trained GenSLM model's weights to Hugging Face safetensors (GPTNeoXForCausalLM names) with its config.json.")

    @OptionGroup var trained: TrainedModelOptions
    @Option(help: "Output folder: model.safetensors and config.json.") var output: String

    func execute(budget: ThreadBudget) throws {
        let trained = try self.trained.load()
        try trained.model.writeHuggingFace(to: output)
        print("wrote \(output)/model.safetensors and \(output)/config.json from \(trained.checkpoint)")
    }
}

struct GenSLMSynthesize: SciZooCommand {
    static let configuration = CommandConfiguration(
        commandName: "genslm-synthesize",
        abstract: "Write synthetic genes from a codon-usage and gene-length model fitted on real genes (how Datasets/genslm/ was made).",
        discussion: "A first-order Markov chain over sense codons, the stop codons' frequencies and the fitted genes' lengths.")

    @Option(help: "Real genes to fit (FASTA, .gz too), e.g. from scizoo find-genes.") var genes: String
    @Option(help: "How many genes to write.") var num: Int = 300
    @Option(help: "Random seed.") var seed: UInt64 = 7
    @Option(help: "Output FASTA.") var output: String

    func execute(budget: ThreadBudget) throws {
        let records = try FastaReader.readAll(path: genes)
        let model = try CodonUsageModel(fitting: records.map(\.sequence), file: genes)
        let sampled = model.sample(count: num, seed: seed)
        var lines: [String] = []
        for (index, gene) in sampled.enumerated() {
            lines.append(">synthetic_\(index + 1) length=\(gene.count) model=codon-markov-1 fitted-on=\(records.count)-genes seed=\(seed)")
            var start = gene.startIndex
            while start < gene.endIndex {
                let end = gene.index(start, offsetBy: 70, limitedBy: gene.endIndex) ?? gene.endIndex
                lines.append(String(gene[start..<end]))
                start = end
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: output, atomically: true, encoding: .utf8)
        print("wrote \(output): \(num) synthetic genes (\(sampled.map(\.count).min() ?? 0)–\(sampled.map(\.count).max() ?? 0) bases) "
              + "from a model fitted on \(records.count) genes of \(genes), seed \(seed)")
    }
}
