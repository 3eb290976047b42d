// `scizoo checkpoint …`: tools for ZeRO checkpoint folders.
import ArgumentParser
import Kernels
import ParallelRuntime

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "ZeRO checkpoint tools.",
        subcommands: [ConsolidateCheckpoint.self])
}

struct ConsolidateCheckpoint: SciZooCommand {
    static var errorName: String { "checkpoint consolidate" }
    static let configuration = CommandConfiguration(
        commandName: "consolidate",
        abstract: "Stream a ZeRO checkpoint's per-rank shards into one SciZoo checkpoint (DeepSpeed's zero_to_fp32).",
        discussion: """
            Reads DIR/latest (or --tag) and writes every parameter's fp32 values — and Adam's exp_avg and exp_avg_sq \
            unless --weights-only — holding one parameter in memory at a time. The result loads into the model \
            (scizoo genslm-generate --checkpoint …) and resumes a run on any number of ranks.
            """)

    @Argument(help: "The checkpoint folder (holding `latest` and the tag folders).") var directory: String
    @Option(help: "The tag to read (default: the one `latest` names).") var tag: String?
    @Option(help: "The consolidated checkpoint (.h5), written atomically.") var output: String
    @Flag(help: "Parameters only, without the optimiser state.") var weightsOnly = false

    func execute(budget: ThreadBudget) throws {
        let count = try ZeROCheckpoint.consolidate(directory: directory, tag: tag, output: output, weightsOnly: weightsOnly)
        print("consolidated \(count) parameters from \(directory)/\(tag ?? ZeROCheckpoint.latestTag(in: directory) ?? "?") into \(output)")
    }
}
