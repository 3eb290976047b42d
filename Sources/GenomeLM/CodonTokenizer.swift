// GenSLM's codon tokenizer: a Hugging Face `tokenizers` WordLevel model with the Whitespace
// pre-tokenizer, applied to a DNA sequence cut into non-overlapping 3-mers (port of the
// semantics of genslm/dataset.py `group_by_kmer` plus the tokenizer files in genslm/tokenizer_files).
import Foundation
import TensorIO

/// A word-level tokenizer over codons (or any whitespace-separated words).
public struct CodonTokenizer: Sendable {
    /// Token → id.
    public let vocabulary: [String: Int64]
    /// Id → token.
    public let tokens: [String]
    public let unknownID: Int64
    public let padID: Int64
    /// Special tokens wrapped around every sequence by the post-processor (e.g. [BOS] … [EOS]).
    public let prefixIDs: [Int64]
    public let suffixIDs: [Int64]
    /// Ids of special tokens (skipped when decoding).
    public let specialIDs: Set<Int64>

    public var vocabularySize: Int { tokens.count }
    /// Where the vocabulary came from: "scizoo-codons" or the tokenizer file's name.
    public var name = "scizoo-codons"

    /// MD5 of the tokens in id order and of the special tokens wrapped around every sequence: two
    /// tokenizers with one fingerprint encode every sequence alike. Recorded in the HDF5 files
    /// `fasta-to-h5` writes and checked when training reads them.
    public var fingerprint: String {
        MD5.hex(tokens.joined(separator: "\n") + "\nprefix " + prefixIDs.map(String.init).joined(separator: ",")
                + "\nsuffix " + suffixIDs.map(String.init).joined(separator: ",") + "\nunknown \(unknownID) pad \(padID)")
    }

    public init(vocabulary: [String: Int64], unknownToken: String = "[UNK]", padToken: String = "[PAD]",
                prefix: [String] = [], suffix: [String] = [], specialTokens: [String]) {
        self.vocabulary = vocabulary
        var tokens = [String](repeating: "", count: (vocabulary.values.max().map { Int($0) } ?? -1) + 1)
        for (token, id) in vocabulary { tokens[Int(id)] = token }
        self.tokens = tokens
        unknownID = vocabulary[unknownToken] ?? 0
        padID = vocabulary[padToken] ?? 0
        prefixIDs = prefix.compactMap { vocabulary[$0] }
        suffixIDs = suffix.compactMap { vocabulary[$0] }
        specialIDs = Set(specialTokens.compactMap { vocabulary[$0] })
    }

    /// SciZoo's own codon tokenizer: [UNK] [CLS] [SEP] [PAD] [MASK], then the 64 codons in
    /// lexicographic order (AAA = 5 … TTT = 68). Upstream's files use another order; load them
    /// with `load(from:)` to reproduce released models.
    public static let standard: CodonTokenizer = {
        let specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
        var vocabulary: [String: Int64] = [:]
        for (index, token) in specials.enumerated() { vocabulary[token] = Int64(index) }
        let bases = ["A", "C", "G", "T"]
        var next: Int64 = 5
        for a in bases { for b in bases { for c in bases { vocabulary[a + b + c] = next; next += 1 } } }
        return CodonTokenizer(vocabulary: vocabulary, specialTokens: specials)
    }()

    /// Larger than any genome or protein vocabulary (GenSLM's are 69–100 tokens).
    public static let maximumVocabularySize: Int64 = 1 << 20

    /// Reads a Hugging Face tokenizer JSON file (WordLevel model, Whitespace pre-tokenizer,
    /// optional TemplateProcessing post-processor), as in GenSLM's tokenizer_files.
    public static func load(from path: String) throws -> CodonTokenizer {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FileError(file: path, message: "cannot read the file (\(error.localizedDescription))")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FileError(file: path, message: "not a JSON object; expected a Hugging Face tokenizer.json")
        }
        guard let model = json["model"] as? [String: Any] else {
            throw FileError(file: path, message: "no \"model\" section; expected a Hugging Face tokenizer.json")
        }
        guard model["type"] as? String == "WordLevel" else {
            throw FileError(file: path, message: "model type is \(model["type"] as? String ?? "missing"), but GenSLM tokenizers are WordLevel")
        }
        guard let rawVocabulary = model["vocab"] as? [String: Any], !rawVocabulary.isEmpty else {
            throw FileError(file: path, message: "the WordLevel model has no \"vocab\"")
        }
        if let pre = json["pre_tokenizer"] as? [String: Any], let type = pre["type"] as? String, type != "Whitespace" {
            throw FileError(file: path, message: "pre_tokenizer is \(type); only Whitespace (GenSLM's) is supported")
        }
        var vocabulary: [String: Int64] = [:]
        for (token, id) in rawVocabulary {
            guard let number = (id as? NSNumber)?.int64Value, Double(number) == (id as? NSNumber)?.doubleValue else {
                throw FileError(file: path, message: "vocab entry \"\(token)\" has a non-integer id")
            }
            // The model's embedding has max id + 1 rows: an id from a damaged file must not size it.
            guard (0..<Self.maximumVocabularySize).contains(number) else {
                throw FileError(file: path, message: "vocab entry \"\(token)\" has id \(number); ids must lie in 0..<\(Self.maximumVocabularySize)")
            }
            vocabulary[token] = number
        }
        let unknown = model["unk_token"] as? String ?? "[UNK]"
        let specials = (json["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["content"] as? String }
        var prefix: [String] = [], suffix: [String] = []
        if let post = json["post_processor"] as? [String: Any] {
            guard post["type"] as? String == "TemplateProcessing", let single = post["single"] as? [[String: Any]] else {
                throw FileError(file: path, message: "post_processor \(post["type"] as? String ?? "?") is not supported (TemplateProcessing is)")
            }
            var seenSequence = false
            for piece in single {
                if let special = piece["SpecialToken"] as? [String: Any], let id = special["id"] as? String {
                    if seenSequence { suffix.append(id) } else { prefix.append(id) }
                } else if piece["Sequence"] != nil {
                    seenSequence = true
                }
            }
        }
        var tokenizer = CodonTokenizer(vocabulary: vocabulary, unknownToken: unknown, prefix: prefix, suffix: suffix,
                                       specialTokens: specials)
        tokenizer.name = URL(fileURLWithPath: path).lastPathComponent
        return tokenizer
    }

    /// Uppercases and cuts into non-overlapping 3-mers from position 0 (a trailing partial codon
    /// is kept), joined by spaces: GenSLM's `group_by_kmer`.
    public static func groupByCodon(_ sequence: String) -> String {
        let upper = Array(sequence.uppercased())
        var pieces: [String] = []
        pieces.reserveCapacity(upper.count / 3 + 1)
        var index = 0
        while index < upper.count {
            pieces.append(String(upper[index..<Swift.min(index + 3, upper.count)]))
            index += 3
        }
        return pieces.joined(separator: " ")
    }

    /// The Whitespace pre-tokenizer: the pieces matching `\w+|[^\w\s]+`.
    public static func whitespaceSplit(_ text: String) -> [String] {
        enum Kind { case word, punctuation, space }
        func kind(_ c: Character) -> Kind {
            if c.isWhitespace { return .space }
            return c.isLetter || c.isNumber || c == "_" ? .word : .punctuation
        }
        var pieces: [String] = []
        var current = ""
        var currentKind = Kind.space
        for c in text {
            let k = kind(c)
            if k != currentKind || k == .space {
                if !current.isEmpty { pieces.append(current) }
                current = ""
            }
            if k != .space { current.append(c) }
            currentKind = k
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// Token ids of a DNA sequence, without padding or truncation (specials included).
    public func tokenize(_ sequence: String) -> [Int64] {
        let pieces = CodonTokenizer.whitespaceSplit(CodonTokenizer.groupByCodon(sequence))
        return prefixIDs + pieces.map { vocabulary[$0] ?? unknownID } + suffixIDs
    }

    /// Encodes as GenSLM does: truncation to `blockSize` (specials kept, as Hugging Face's
    /// truncation makes room for them), right padding with [PAD], attention mask 1 on every
    /// real token including [UNK].
    public func encode(_ sequence: String, blockSize: Int) -> (inputIDs: [Int64], attentionMask: [Int64]) {
        precondition(blockSize > prefixIDs.count + suffixIDs.count, "encode: block size \(blockSize) leaves no room for tokens")
        let pieces = CodonTokenizer.whitespaceSplit(CodonTokenizer.groupByCodon(sequence))
        let room = blockSize - prefixIDs.count - suffixIDs.count
        let body = pieces.prefix(room).map { vocabulary[$0] ?? unknownID }
        let ids = prefixIDs + body + suffixIDs
        let padding = blockSize - ids.count
        return (ids + [Int64](repeating: padID, count: padding),
                [Int64](repeating: 1, count: ids.count) + [Int64](repeating: 0, count: padding))
    }

    /// Codons joined without spaces, special tokens skipped; optionally cut after the first stop codon.
    public func decode(_ ids: [Int64], cutAtStopCodon: Bool = false) -> String {
        var result = ""
        for id in ids where !specialIDs.contains(id) {
            guard id >= 0 && Int(id) < tokens.count else { continue }
            let token = tokens[Int(id)]
            result += token
            if cutAtStopCodon && ["TAA", "TAG", "TGA"].contains(token) { break }
        }
        return result
    }

    /// This tokenizer as a Hugging Face tokenizer.json (WordLevel, Whitespace), e.g. to ship
    /// SciZoo's own vocabulary beside a model.
    public func huggingFaceJSON() throws -> Data {
        let added = tokens.enumerated().filter { specialIDs.contains(Int64($0.offset)) }.map { index, token in
            ["id": index, "content": token, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
             "special": true] as [String: Any]
        }
        var vocab: [String: Int] = [:]
        for (token, id) in vocabulary { vocab[token] = Int(id) }
        let object: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Whitespace"], "post_processor": NSNull(), "decoder": NSNull(),
            "model": ["type": "WordLevel", "vocab": vocab, "unk_token": tokens[Int(unknownID)]],
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}
