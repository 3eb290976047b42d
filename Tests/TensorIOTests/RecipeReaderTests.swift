// The shared recipe reader: types, lines, suggestions, duplicate keys, JSON and YAML alike.
import Foundation
import Testing
import TestSupport
@testable import TensorIO

@Suite("Recipe reader")
struct RecipeReaderTests {
    static let yaml = """
        name: smoke
        steps: 200
        rate: 1e-3
        quoted: "1e-3"
        big: 5e8
        flag: true
        nothing: null
        names: [a, b]
        sizes: [32, 64]
        trainer:
          max_steps: 600
          callbacks:
            - class_path: EarlyStopping
              init_args: {patience: 5}
        """

    @Test("typed values: plain numbers as YAML 1.2 reads them, quoted ones stay strings, null is absent")
    func typedValues() throws {
        var r = try RecipeSection.parse(Self.yaml, file: "r.yaml")
        #expect(try r.string("name") == "smoke")
        #expect(try r.int("steps") == 200 && (try r.double("steps")) == 200)
        #expect(try r.double("rate") == 1e-3)
        #expect(try r.int("big") == 500_000_000)
        #expect(try r.bool("flag") == true)
        #expect(try r.string("nothing") == nil)
        #expect(try r.strings("names") == ["a", "b"] && (try r.ints("sizes")) == [32, 64])
        #expect(throws: FileError(file: "r.yaml", line: 4, key: "key 'quoted'", message: "must be a number, got '1e-3'")) { try r.double("quoted") }
        #expect(throws: FileError(file: "r.yaml", line: 2, key: "key 'steps'", message: "must be a string, got 200")) { try r.string("steps") }
        #expect(throws: FileError(file: "r.yaml", line: 2, key: "key 'steps'", message: "must be an integer ≥ 500, got 200")) { try r.int("steps", minimum: 500) }
        var trainer = try #require(try r.section("trainer"))
        #expect(try trainer.int("max_steps") == 600)
        var callbacks = try #require(try trainer.sections("callbacks"))
        #expect(callbacks.count == 1 && callbacks[0].path == "trainer.callbacks[0]")
        var args = try #require(try callbacks[0].section("init_args"))
        #expect(try args.int("patience") == 5)
        #expect(throws: FileError(file: "r.yaml", line: 14, key: "key 'trainer.callbacks[0].init_args.patience'", message: "must be a string, got 5")) {
            try args.string("patience")
        }
        try args.finish()
    }

    @Test("an unknown key names the file, its line and the closest known key; keys given twice are refused")
    func unknownKeys() throws {
        var r = try RecipeSection.parse("steps: 1\nlearning_rte: 0.1\nseed: 3\n", file: "r.yaml")
        _ = try r.int("steps")
        _ = try r.double("learning_rate")
        _ = try r.int("seed")
        #expect(throws: FileError(file: "r.yaml", line: 2, message: "unknown key 'learning_rte'; did you mean 'learning_rate'?")) { try r.finish() }
        let error = FileError(file: "r.yaml", line: 2, message: "unknown key 'learning_rte'; did you mean 'learning_rate'?")
        #expect(error.description == "r.yaml:2: unknown key 'learning_rte'; did you mean 'learning_rate'?")
        do {
            _ = try RecipeSection.parse("steps: 1\nsteps: 2\n", file: "r.yaml")
            Issue.record("a key given twice must be refused")
        } catch let error as FileError {
            #expect(error.file == "r.yaml" && error.message.contains("duplicated key(s): 'steps'"), "\(error)")
        }
    }

    @Test("JSON reads through the same reader, with lines; malformed files name where they broke")
    func json() throws {
        var r = try RecipeSection.parse("{\n  \"train_batch_size\": 8,\n  \"zero_optimization\": {\"stage\": \"2\"}\n}", file: "ds.json")
        #expect(try r.int("train_batch_size") == 8)
        var zero = try #require(try r.section("zero_optimization"))
        #expect(throws: FileError(file: "ds.json", line: 3, key: "key 'zero_optimization.stage'", message: "must be an integer, got '2'")) {
            try zero.int("stage")
        }
        do {
            _ = try RecipeSection.parse("{\n  \"a\": 1,\n  \"b\": [1, 2\n}", file: "bad.json")
            Issue.record("a malformed file must be refused")
        } catch let error as FileError {
            #expect(error.file == "bad.json" && (error.line ?? 0) >= 3 && error.message.hasPrefix("not valid YAML or JSON"), "\(error)")
        }
        #expect(throws: FileError(file: "list.yaml", line: 1, message: "expected a mapping of settings (key: value), got [1, 2]")) {
            _ = try RecipeSection.parse("[1, 2]", file: "list.yaml")
        }
    }

    @Test("the recorded JSON keeps every value with its type")
    func recordedJSON() throws {
        let r = try RecipeSection.parse(Self.yaml, file: "r.yaml")
        let object = try JSONSerialization.jsonObject(with: Data(r.json.utf8)) as! [String: Any]
        #expect(object["steps"] as? Int == 200 && object["rate"] as? Double == 1e-3 && object["quoted"] as? String == "1e-3")
        #expect((object["trainer"] as? [String: Any])?["max_steps"] as? Int == 600)
    }
}
