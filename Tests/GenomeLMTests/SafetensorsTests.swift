import Foundation
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import TensorCore
import TensorIO

@Suite("safetensors and Hugging Face weights")
struct SafetensorsTests {
    @Test("our files load in the safetensors package; its files (F16, BF16 too) load here")
    func interop() throws {
        let directory = try Fixtures.scratchDirectory("safetensors")
        let ours = directory.appendingPathComponent("ours.safetensors").path
        try Safetensors.write([("w", Tensor([1.5, -2, 3, 4], shape: [2, 2]).cast(to: .float32)), ("ids", Tensor([Int64(7), 8])),
                               ("d", Tensor([Double.pi]))], metadata: ["format": "pt"], to: ours)
        let report = try Subprocess.python("""
            import sys, json
            from safetensors.numpy import load_file
            from safetensors import safe_open
            t = load_file(sys.argv[1])
            with safe_open(sys.argv[1], "np") as f: meta = f.metadata()
            print(json.dumps({k: [str(v.dtype), list(v.shape), v.flatten().tolist()] for k, v in t.items()} | {"meta": meta}))
            """, arguments: [ours])
        let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as! [String: Any]
        #expect((json["w"] as! [Any])[0] as? String == "float32" && (json["w"] as! [Any])[2] as? [Double] == [1.5, -2, 3, 4])
        #expect((json["ids"] as! [Any])[0] as? String == "int64" && (json["d"] as! [Any])[2] as? [Double] == [Double.pi])
        #expect((json["meta"] as? [String: String])?["format"] == "pt")

        let theirs = directory.appendingPathComponent("theirs.safetensors").path
        _ = try Subprocess.python("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"half": np.array([0.5, -1.25, 3.0], dtype=np.float16), "single": np.arange(6, dtype=np.float32).reshape(2, 3),
                       "long": np.array([1, 2], dtype=np.int64)}, sys.argv[1], metadata={"source": "numpy"})
            """, arguments: [theirs])
        let (tensors, metadata) = try Safetensors.read(from: theirs)
        #expect(tensors.map(\.0) == ["half", "long", "single"] && metadata["source"] == "numpy")
        #expect(tensors[0].1.doubles == [0.5, -1.25, 3] && tensors[0].1.dtype == .float32)
        #expect(tensors[2].1.shape == [2, 3] && tensors[2].1.doubles == [0, 1, 2, 3, 4, 5])
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory.appendingPathComponent("bad.safetensors").path))
        #expect(throws: FileError.self) { _ = try Safetensors.read(from: directory.appendingPathComponent("bad.safetensors").path) }
    }

    @Test("GPT-NeoX weights round-trip under Hugging Face names, with prefixes and buffers tolerated, strictly")
    func gptNeoXWeights() throws {
        let config = GPTNeoXConfiguration(vocabSize: 69, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 32, rotaryPct: 0.5)
        let model = GPTNeoXForCausalLM(config, seed: 1)
        let directory = try Fixtures.scratchDirectory("neoxweights")
        let path = directory.appendingPathComponent("model.safetensors").path
        try Safetensors.write(model.huggingFaceStateDict(), metadata: ["format": "pt"], to: path)
        let names = try Safetensors.read(from: path).tensors.map(\.0)
        #expect(names.contains("gpt_neox.embed_in.weight") && names.contains("embed_out.weight")
                && names.contains("gpt_neox.layers.1.attention.query_key_value.bias") && names.contains("gpt_neox.final_layer_norm.weight"))
        let twin = GPTNeoXForCausalLM(config, seed: 2)
        // Lightning-style prefixes and the causal-mask buffers of older checkpoints are tolerated.
        let lightning = try Safetensors.read(from: path).tensors.map { ("model.\($0.0)", $0.1) }
            + [("model.gpt_neox.layers.0.attention.bias", Tensor.ones([1, 1, 4, 4])), ("model.gpt_neox.layers.0.attention.masked_bias", Tensor(scalar: -1e9))]
        try twin.loadHuggingFace(lightning)
        let ids = Tensor([Int64](arrayLiteral: 5, 9, 13, 20), shape: [1, 4])
        #expect(twin(ids).doubles == model(ids).doubles)
        // Strict: a missing and an unknown tensor are both reported by name.
        var broken = try Safetensors.read(from: path).tensors.filter { $0.0 != "embed_out.weight" }
        broken.append(("gpt_neox.layers.9.mlp.extra.weight", Tensor.zeros([1])))
        do {
            try twin.loadHuggingFace(broken)
            Issue.record("a missing tensor must fail")
        } catch let error as StateDictError {
            #expect(error.missing == ["embed_out.weight"] && error.unexpected == ["gpt_neox.layers.9.mlp.extra.weight"])
        }
    }
}
