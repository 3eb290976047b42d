import Foundation
import Testing
import TestSupport
@testable import GenomeLM
@testable import NeuralNetworks
@testable import TensorCore
import TensorIO

/// Against Hugging Face transformers itself: Parity/make_gptneox_parity.py (run by a developer with
/// PyTorch; versions in Parity/versions.txt) saved a tiny GPT-NeoX, a batch, its logits, losses and
/// gradients. The model is loaded from transformers' own config.json (rope_parameters form) and
/// safetensors (lm_head naming).
@Suite("GPT-NeoX against transformers")
struct TransformersParityTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity").path

    @Test("logits (≤ 1e-4 abs), losses (≤ 1e-5) and gradients (≤ 1e-4 rel) match transformers")
    func parity() throws {
        let configuration = try GPTNeoXConfiguration.load(from: Self.folder + "/config.json")
        let model = GPTNeoXForCausalLM(configuration)
        try model.loadHuggingFace(try Safetensors.read(from: Self.folder + "/model.safetensors").tensors)
        let expected = Dictionary(uniqueKeysWithValues: try Safetensors.read(from: Self.folder + "/expected.safetensors").tensors)
        let ids = expected["input_ids"]!, mask = expected["attention_mask"]!

        let logits = withNoGrad { model(ids, attentionMask: mask) }
        let logitCheck = closeness(logits.doubles, expected["logits"]!.doubles, Tolerance(rtol: 0, atol: 1e-4))
        #expect(logitCheck.passed, "logits: \(logitCheck)")

        let withPadding = withNoGrad { model.loss(ids, attentionMask: mask, includePadding: true) }
        #expect(Swift.abs(withPadding.item() - expected["loss_with_padding"]!.item()) <= 1e-5, "loss with padding \(withPadding.item())")

        let loss = model.loss(ids, attentionMask: mask)
        #expect(Swift.abs(loss.item() - expected["loss_real_tokens"]!.item()) <= 1e-5, "loss \(loss.item())")
        try loss.backward()
        let ours = Dictionary(uniqueKeysWithValues: model.namedParameters().map { (GPTNeoXForCausalLM.huggingFaceName($0.0), $0.1) })
        var compared = 0
        for (key, reference) in expected where key.hasPrefix("grad.") {
            var name = String(key.dropFirst(5))
            if name == "lm_head.weight" { name = "embed_out.weight" }
            guard let parameter = ours[name], let gradient = parameter.grad else {
                Issue.record("no gradient for \(name)")
                continue
            }
            // Relative to the gradient's largest entry: entries near zero carry only rounding noise.
            let scale = reference.doubles.map { Swift.abs($0) }.max() ?? 1
            let check = closeness(gradient.doubles, reference.doubles, Tolerance(rtol: 1e-4, atol: 1e-4 * scale))
            #expect(check.passed, "\(name): \(check)")
            compared += 1
        }
        #expect(compared == 6)
    }
}
