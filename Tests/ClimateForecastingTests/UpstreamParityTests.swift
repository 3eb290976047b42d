import Foundation
import Testing
import TestSupport
@testable import ClimateForecasting
import NeuralNetworks
import TensorCore
import TensorIO

/// A NumPy transcription of upstream's forward (src/climax/arch.py with timm's Block and
/// nn.MultiheadAttention), run on a state dict saved under upstream's names, against our model
/// loaded from the same file.
@Suite("ClimaX against a NumPy transcription of upstream's forward")
struct UpstreamParityTests {
    static let script = """
        import sys, json, math, numpy as np
        from safetensors.numpy import save_file
        out_dir = sys.argv[1]
        rng = np.random.default_rng(11)
        V_all, D, H, W, p, depth, heads, dec = 6, 16, 8, 16, 2, 2, 2, 1
        L, dh, hidden = (H // p) * (W // p), D // heads, 4 * D
        sd = {}
        def r(*shape, s=0.2): return (s * rng.normal(size=shape)).astype(np.float32)
        for i in range(V_all):
            sd[f'net.token_embeds.{i}.proj.weight'] = r(D, 1, p, p); sd[f'net.token_embeds.{i}.proj.bias'] = r(D)
        sd['net.var_embed'] = r(1, V_all, D); sd['net.var_query'] = r(1, 1, D)
        sd['net.var_agg.in_proj_weight'] = r(3 * D, D); sd['net.var_agg.in_proj_bias'] = r(3 * D)
        sd['net.var_agg.out_proj.weight'] = r(D, D); sd['net.var_agg.out_proj.bias'] = r(D)
        sd['net.pos_embed'] = r(1, L, D); sd['net.lead_time_embed.weight'] = r(D, 1); sd['net.lead_time_embed.bias'] = r(D)
        for b in range(depth):
            k = f'net.blocks.{b}.'
            sd[k + 'norm1.weight'] = 1 + r(D); sd[k + 'norm1.bias'] = r(D); sd[k + 'norm2.weight'] = 1 + r(D); sd[k + 'norm2.bias'] = r(D)
            sd[k + 'attn.qkv.weight'] = r(3 * D, D); sd[k + 'attn.qkv.bias'] = r(3 * D)
            sd[k + 'attn.proj.weight'] = r(D, D); sd[k + 'attn.proj.bias'] = r(D)
            sd[k + 'mlp.fc1.weight'] = r(hidden, D); sd[k + 'mlp.fc1.bias'] = r(hidden)
            sd[k + 'mlp.fc2.weight'] = r(D, hidden); sd[k + 'mlp.fc2.bias'] = r(D)
        sd['net.norm.weight'] = 1 + r(D); sd['net.norm.bias'] = r(D)
        for i in range(dec): sd[f'net.head.{2 * i}.weight'] = r(D, D); sd[f'net.head.{2 * i}.bias'] = r(D)
        sd[f'net.head.{2 * dec}.weight'] = r(V_all * p * p, D); sd[f'net.head.{2 * dec}.bias'] = r(V_all * p * p)
        save_file(sd, out_dir + '/upstream.safetensors')
        g = {k[4:]: v.astype(np.float64) for k, v in sd.items()}
        erf = np.vectorize(math.erf)
        def gelu(x): return 0.5 * x * (1 + erf(x / math.sqrt(2)))
        def ln(x, w, b): m = x.mean(-1, keepdims=True); v = x.var(-1, keepdims=True); return (x - m) / np.sqrt(v + 1e-5) * w + b
        def softmax(x): e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)
        var_ids, out_ids = [3, 0, 4], [5, 3]
        B = 2
        x = rng.normal(size=(B, len(var_ids), H, W)); lead = np.array([0.72, 0.06])
        # token_embeds: one stride-p convolution per variable
        toks = []
        for j, vid in enumerate(var_ids):
            patches = x[:, j].reshape(B, H // p, p, W // p, p).transpose(0, 1, 3, 2, 4).reshape(B, L, p * p)
            toks.append(patches @ g[f'token_embeds.{vid}.proj.weight'].reshape(D, p * p).T + g[f'token_embeds.{vid}.proj.bias'])
        t = np.stack(toks, 1) + g['var_embed'][:, var_ids][:, :, None, :]          # B, V, L, D
        t = t.transpose(0, 2, 1, 3).reshape(B * L, len(var_ids), D)                 # aggregate_variables
        Wq, Wk, Wv = np.split(g['var_agg.in_proj_weight'], 3); bq, bk, bv = np.split(g['var_agg.in_proj_bias'], 3)
        q = (g['var_query'][0] @ Wq.T + bq).reshape(1, heads, dh)
        k = (t @ Wk.T + bk).reshape(B * L, -1, heads, dh); v = (t @ Wv.T + bv).reshape(B * L, -1, heads, dh)
        a = softmax(np.einsum('hd,nvhd->nhv', q[0], k) / math.sqrt(dh))
        agg = np.einsum('nhv,nvhd->nhd', a, v).reshape(B * L, D) @ g['var_agg.out_proj.weight'].T + g['var_agg.out_proj.bias']
        h = agg.reshape(B, L, D) + g['pos_embed']
        h = h + (lead[:, None] @ g['lead_time_embed.weight'].T + g['lead_time_embed.bias'])[:, None, :]
        for b in range(depth):
            k_ = f'blocks.{b}.'
            y = ln(h, g[k_ + 'norm1.weight'], g[k_ + 'norm1.bias'])
            qkv = (y @ g[k_ + 'attn.qkv.weight'].T + g[k_ + 'attn.qkv.bias']).reshape(B, L, 3, heads, dh).transpose(2, 0, 3, 1, 4)
            att = softmax(qkv[0] @ qkv[1].transpose(0, 1, 3, 2) * dh ** -0.5)
            o = (att @ qkv[2]).transpose(0, 2, 1, 3).reshape(B, L, D) @ g[k_ + 'attn.proj.weight'].T + g[k_ + 'attn.proj.bias']
            h = h + o
            y = ln(h, g[k_ + 'norm2.weight'], g[k_ + 'norm2.bias'])
            h = h + gelu(y @ g[k_ + 'mlp.fc1.weight'].T + g[k_ + 'mlp.fc1.bias']) @ g[k_ + 'mlp.fc2.weight'].T + g[k_ + 'mlp.fc2.bias']
        h = ln(h, g['norm.weight'], g['norm.bias'])
        for i in range(dec): h = gelu(h @ g[f'head.{2 * i}.weight'].T + g[f'head.{2 * i}.bias'])
        h = h @ g[f'head.{2 * dec}.weight'].T + g[f'head.{2 * dec}.bias']
        img = np.einsum('nhwpqc->nchpwq', h.reshape(B, H // p, W // p, p, p, V_all)).reshape(B, V_all, H, W)[:, out_ids]
        json.dump({'x': x.ravel().tolist(), 'lead': lead.tolist(), 'y': img.ravel().tolist()}, open(out_dir + '/io.json', 'w'))
        """

    @Test("upstream-named weights give upstream's forecast (NumPy transcription of arch.py, float64) within 1e-4")
    func forwardParity() throws {
        let directory = try Fixtures.scratchDirectory()
        _ = try Subprocess.python(Self.script, arguments: [directory.path])
        let model = ClimaX(ClimaXConfiguration(defaultVariables: ClimaXModelTests.tinyVariables, imageSize: [8, 16], patchSize: 2, embedDim: 16,
                                               depth: 2, decoderDepth: 1, numHeads: 2, dropPath: 0.1, dropRate: 0.1), seed: 3)
        try ClimaXWeights.load(model, from: directory.appendingPathComponent("upstream.safetensors").path)
        model.eval()
        struct IO: Decodable { let x: [Double], lead: [Double], y: [Double] }
        let io = try JSONDecoder().decode(IO.self, from: Data(contentsOf: directory.appendingPathComponent("io.json")))
        let names = ClimaXModelTests.tinyVariables
        for fused in [true, false] {
            model.varAgg.fused = fused
            let y = withNoGrad {
                model(Tensor(io.x.map(Float.init), shape: [2, 3, 8, 16]), leadTimes: Tensor(io.lead.map(Float.init), shape: [2]),
                      variables: [names[3], names[0], names[4]], outVariables: [names[5], names[3]])
            }
            #expect(y.shape == [2, 2, 8, 16])
            let worst = zip(y.doubles, io.y).map { abs($0 - $1) }.max()!
            let scale = io.y.map(abs).max()!
            #expect(worst <= 1e-4 * Swift.max(1, scale), "fused \(fused): max |Δ| \(worst) of values up to \(scale)")
        }
    }
}
