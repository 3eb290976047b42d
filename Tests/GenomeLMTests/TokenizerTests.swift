import Foundation
import TensorIO
import Testing
import TestSupport
@testable import GenomeLM

@Suite("Codon tokenizer")
struct TokenizerTests {
    static let path69 = Fixtures.shared("genslm/tokenizer_files/codon_wordlevel_69vocab.json").path
    static let path71 = Fixtures.shared("genslm/tokenizer_files/codon_wordlevel_71vocab.json").path

    @Test("upstream's 69-token vocabulary: ids, partial codons, non-ACGT letters, punctuation")
    func rules69() throws {
        let t = try CodonTokenizer.load(from: TokenizerTests.path69)
        #expect(t.vocabularySize == 69)
        #expect(t.vocabulary["GGC"] == 5 && t.vocabulary["GCC"] == 6 && t.vocabulary["ATC"] == 7 && t.vocabulary["ATG"] == 10
                && t.vocabulary["TAG"] == 68)
        #expect(t.unknownID == 0 && t.padID == 3 && t.prefixIDs.isEmpty && t.suffixIDs.isEmpty)
        let atg = t.vocabulary["ATG"]!, aaa = t.vocabulary["AAA"]!, gaa = t.vocabulary["GAA"]!, ttt = t.vocabulary["TTT"]!
        #expect(t.tokenize("ATGAAA") == [atg, aaa])
        #expect(t.tokenize("atgAaa") == [atg, aaa], "uppercased first")
        #expect(t.tokenize("ATGAA") == [atg, 0], "a trailing partial codon is [UNK]")
        #expect(t.tokenize("ATGNNNAAA") == [atg, 0, aaa], "non-ACGT letters give [UNK]")
        #expect(t.tokenize("ATGRYA") == [atg, 0])
        // Punctuation splits a codon into several pieces, each [UNK]: the token count changes.
        #expect(t.tokenize("AT-GAA") == [0, 0, gaa], "'AT-' → 'AT', '-'")
        #expect(t.tokenize("ATG*") == [atg, 0])
        #expect(t.tokenize("A.GTTT") == [0, 0, 0, ttt], "'A.G' → 'A', '.', 'G'")
        #expect(CodonTokenizer.groupByCodon("atgcatg") == "ATG CAT G")
        #expect(CodonTokenizer.whitespaceSplit("AT- G.* TTT") == ["AT", "-", "G", ".*", "TTT"])
    }

    @Test("encoding pads right with [PAD], truncates to the block, masks real tokens (including [UNK])")
    func encoding() throws {
        let t = try CodonTokenizer.load(from: TokenizerTests.path69)
        let atg = t.vocabulary["ATG"]!, aaa = t.vocabulary["AAA"]!
        let padded = t.encode("ATGAAN", blockSize: 5)
        #expect(padded.inputIDs == [atg, 0, 3, 3, 3] && padded.attentionMask == [1, 1, 0, 0, 0])
        let truncated = t.encode("ATGAAACCCGGG", blockSize: 2)
        #expect(truncated.inputIDs == [atg, aaa] && truncated.attentionMask == [1, 1])
        // Upstream's own test: for whole-codon ACGT sequences the mask sums to len // 3; a trailing
        // partial codon adds one [UNK], which is a real token (mask 1).
        var generator = SystemRandomNumberGenerator()
        for length in [3, 10, 99, 100, 299, 600] {
            let sequence = String((0..<length).map { _ in "ACGT".randomElement(using: &generator)! })
            let expected = length % 3 == 0 ? length / 3 : length / 3 + 1
            #expect(t.encode(sequence, blockSize: 128).attentionMask.reduce(0, +) == Int64(Swift.min(128, expected)))
        }
    }

    @Test("the 71-token file wraps sequences as [BOS] … [EOS], truncation keeps both")
    func template71() throws {
        let t = try CodonTokenizer.load(from: TokenizerTests.path71)
        #expect(t.vocabularySize == 71 && t.prefixIDs == [2] && t.suffixIDs == [3] && t.padID == 5)
        let atg = t.vocabulary["ATG"]!, aaa = t.vocabulary["AAA"]!
        #expect(t.encode("ATGAAA", blockSize: 6).inputIDs == [2, atg, aaa, 3, 5, 5])
        #expect(t.encode("ATGAAA", blockSize: 6).attentionMask == [1, 1, 1, 1, 0, 0])
        #expect(t.encode("ATGAAACCC", blockSize: 3).inputIDs == [2, atg, 3])
        #expect(t.decode([2, atg, aaa, 3, 5]) == "ATGAAA")
    }

    @Test("decoding joins codons, skips specials and can cut at the first stop codon")
    func decoding() throws {
        let t = CodonTokenizer.standard
        let ids = t.tokenize("ATGAAATAGCCC")
        #expect(t.decode(ids) == "ATGAAATAGCCC")
        #expect(t.decode(ids, cutAtStopCodon: true) == "ATGAAATAG")
        #expect(t.decode([1, 3] + ids.prefix(1)) == "ATG")
        #expect(t.vocabulary["AAA"] == 5 && t.vocabulary["TTT"] == 68 && t.vocabularySize == 69)
        // Our vocabulary round-trips through the Hugging Face format.
        let directory = try Fixtures.scratchDirectory("tokenizer")
        let path = directory.appendingPathComponent("scizoo_codon.json").path
        try t.huggingFaceJSON().write(to: URL(fileURLWithPath: path))
        let reloaded = try CodonTokenizer.load(from: path)
        #expect(reloaded.vocabulary == t.vocabulary && reloaded.specialIDs == t.specialIDs)
    }

    @Test("a tokenizer of another model type, or not JSON, fails naming the file")
    func badFiles() throws {
        let directory = try Fixtures.scratchDirectory("badtokenizer")
        let bpe = directory.appendingPathComponent("bpe.json").path
        try #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#.write(toFile: bpe, atomically: true, encoding: .utf8)
        do {
            _ = try CodonTokenizer.load(from: bpe)
            Issue.record("a BPE tokenizer must be refused")
        } catch let error as FileError {
            #expect(error.description.hasPrefix(bpe) && error.description.contains("BPE"))
        }
        let text = directory.appendingPathComponent("notes.txt").path
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { _ = try CodonTokenizer.load(from: text) }
        #expect(throws: FileError.self) { _ = try CodonTokenizer.load(from: directory.appendingPathComponent("missing.json").path) }
    }
}

@Suite("FASTA and GenSLM HDF5 datasets")
struct GenomeDatasetTests {
    @Test("multi-line, gzip-compressed FASTA records stream in order")
    func fasta() throws {
        let directory = try Fixtures.scratchDirectory("fasta")
        let path = directory.appendingPathComponent("genes.fa").path
        try ">g1 first gene\nATGAAA\nccc\n\n>g2\r\nATG\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        let records = try FastaReader.readAll(path: path)
        #expect(records == [FastaRecord(id: "g1", description: "g1 first gene", sequence: "ATGAAAccc", line: 1),
                            FastaRecord(id: "g2", description: "g2", sequence: "ATG", line: 5)])
        let gzipped = try Subprocess.run("/bin/sh", ["-c", "gzip -c '\(path)' > '\(path).gz'"])
        #expect(gzipped.status == 0)
        #expect(try FastaReader.readAll(path: path + ".gz") == records)
    }

    @Test("bad FASTA files fail with the file, the line and the record")
    func badFasta() throws {
        let directory = try Fixtures.scratchDirectory("badfasta")
        func check(_ text: String, _ expected: String) throws {
            let path = directory.appendingPathComponent("bad-\(abs(text.hashValue)).fa").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try FastaReader.readAll(path: path)
                Issue.record("expected an error for \(text.debugDescription)")
            } catch let error as FileError {
                #expect(error.description.hasPrefix(path), "\(error)")
                #expect(error.description.contains(expected), "\(error)")
            }
        }
        try check("", "no FASTA records")
        try check(">a\n>b\nACGT\n", ":1: record 'a' has no sequence")
        try check(">a\nACG\n>b\n", ":3: record 'b' has no sequence")
        try check("ACGT\n>a\nACG\n", ":1: sequence data before the first '>'")
        #expect(throws: FileError.self) { _ = try FastaReader.readAll(path: directory.appendingPathComponent("none.fa").path) }
    }

    @Test("fasta-to-h5 writes GenSLM's layout, split by seed, which h5py reads")
    func conversion() throws {
        let directory = try Fixtures.scratchDirectory("convert")
        let fasta = directory.appendingPathComponent("genes.fa").path
        var text = ""
        for index in 0..<50 {
            let codons = (0..<(5 + index % 7)).map { ["ATG", "AAA", "GGC", "TTT", "CCN"][($0 + index) % 5] }
            text += ">gene\(index) synthetic test record \(index)\n\(codons.joined())\n"
        }
        try text.write(toFile: fasta, atomically: true, encoding: .utf8)
        let tokenizer = try CodonTokenizer.load(from: TokenizerTests.path69)
        let results = try GenomeDatasetWriter.convert(fasta: fasta, tokenizer: tokenizer, blockSize: 16,
                                                      outputDirectory: directory.path, seed: 7)
        #expect(results.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["genes_train.h5", "genes_val.h5", "genes_test.h5"])
        #expect(results.map(\.records) == [40, 5, 5])
        let again = try GenomeDatasetWriter.convert(fasta: fasta, tokenizer: tokenizer, blockSize: 16,
                                                    outputDirectory: directory.appendingPathComponent("again").path, seed: 7)
        #expect(again.map(\.records) == [40, 5, 5])

        let report = try Subprocess.python("""
            import sys, json, h5py
            out = {}
            with h5py.File(sys.argv[1], "r") as f:
                for name in ["input_ids", "attention_mask", "id", "description", "sequence"]:
                    d = f[name]
                    out[name] = {"dtype": str(d.dtype), "shape": list(d.shape), "compression": d.compression,
                                 "level": d.compression_opts, "chunked": d.chunks is not None}
                out["ids"] = f["id"].asstr()[()].tolist()
                out["sequences"] = f["sequence"].asstr()[()].tolist()
                out["mask_sums"] = f["attention_mask"][()].sum(axis=1).tolist()
                out["first_row"] = f["input_ids"][0].tolist()
            print(json.dumps(out))
            """, arguments: [results[0].path])
        let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as! [String: Any]
        for name in ["input_ids", "attention_mask"] {
            let info = json[name] as! [String: Any]
            #expect(info["dtype"] as? String == "int64" && info["shape"] as? [Int] == [40, 16])
            #expect(info["compression"] as? String == "gzip" && info["level"] as? Int == 6 && info["chunked"] as? Bool == true)
        }
        for name in ["id", "description", "sequence"] {
            #expect((json[name] as! [String: Any])["dtype"] as? String == "object")
        }
        let ids = json["ids"] as! [String], sequences = json["sequences"] as! [String]
        let sums = json["mask_sums"] as! [Int]
        for (id, (sequence, sum)) in zip(ids, zip(sequences, sums)) {
            #expect(sum == Swift.min(16, sequence.count / 3), "\(id)")
            #expect(text.contains(">\(id) ") && text.contains(sequence))
        }
        #expect(Set(ids).count == 40)
        let first = tokenizer.encode(sequences[0], blockSize: 16).inputIDs.map(Int.init)
        #expect(json["first_row"] as? [Int] == first)

        // Batches by hyperslab; data-parallel shards are disjoint and cover the epoch.
        let reader = try GenomeBatchReader(path: results[0].path)
        #expect(reader.count == 40 && reader.blockSize == 16)
        let shard0 = reader.epochOrder(epoch: 0, seed: 1, rank: 0, worldSize: 2)
        let shard1 = reader.epochOrder(epoch: 0, seed: 1, rank: 1, worldSize: 2)
        #expect(Set(shard0).isDisjoint(with: shard1) && Set(shard0 + shard1) == Set(0..<40))
        #expect(reader.epochOrder(epoch: 1, seed: 1) != reader.epochOrder(epoch: 0, seed: 1))
        let batch = try reader.batch([shard0[0], shard0[1]])
        #expect(batch.inputIDs.shape == [2, 16] && batch.inputIDs.dtype == .int64)
    }
}
