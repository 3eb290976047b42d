// A trained GenSLM model, found from its recipe and run folder (generation and embeddings).
import Foundation
import GenomeLM
import TensorIO

/// A trained model ready for generation or embeddings, found from its recipe and run folder.
public struct GenSLMTrainedModel {
    public let model: GPTNeoXForCausalLM
    public let tokenizer: CodonTokenizer
    public let blockSize: Int
    public let checkpoint: String

    /// Loads `checkpoint` (default: the run's checkpoint_dir/last.h5) into the recipe's model.
    public static func load(settings: GenSLMSettings, runDirectory: String, checkpoint: String? = nil) throws -> GenSLMTrainedModel {
        let configuration = try GPTNeoXConfiguration.load(from: settings.resolve(settings.modelConfigJSON))
        let tokenizer = try settings.tokenizerFile.map { try CodonTokenizer.load(from: settings.resolve($0)) } ?? .standard
        let directory = settings.checkpointDir.hasPrefix("/") ? settings.checkpointDir : runDirectory + "/" + settings.checkpointDir
        let path = checkpoint ?? directory + "/last.h5"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(file: path, message: "no checkpoint here; train first (scizoo genslm-train) or pass --checkpoint")
        }
        let model = GPTNeoXForCausalLM(configuration)
        try model.loadStateDict(try Checkpoint.read(from: path).parameters)
        return GenSLMTrainedModel(model: model, tokenizer: tokenizer, blockSize: settings.blockSize, checkpoint: path)
    }
}
