// The structure module's trunk (model/structure_module.py): eight iterations with shared
// weights of invariant point attention, a transition, a backbone update (quaternion and
// translation composed into the frames) and the angle ResNet (7 torsions as sin/cos). Atom
// positions from frames and torsions (the residue constants) are not built yet.
import NeuralNetworks
import TensorCore

/// Linear(c_s → 6): the vector part of a quaternion (1, b, c, d) and a translation.
public final class BackboneUpdate: Module {
    public let linear: Linear
    public init(singleChannels: Int = 384, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear = Linear(singleChannels, 6, initialization: .zeros, dtype: dtype, generator: &generator)
    }
    public func callAsFunction(_ s: Tensor) -> Rigid {
        let update = linear(s)
        return Rigid(rotation: Rigid.rotation(quaternionVector: update.sliced(axis: -1, 0, 3)), translation: update.sliced(axis: -1, 3, 6))
    }
}

/// Three Linear(c_s, c_s) with ReLUs between, a residual and a layer norm (one transition layer).
public final class StructureModuleTransition: Module {
    public let linear1: Linear, linear2: Linear, linear3: Linear
    public let layerNorm: LayerNorm
    public init(channels: Int = 384, dtype: DType = .float32, generator: inout RandomGenerator) {
        linear1 = Linear(channels, channels, initialization: .he, dtype: dtype, generator: &generator)
        linear2 = Linear(channels, channels, initialization: .he, dtype: dtype, generator: &generator)
        linear3 = Linear(channels, channels, initialization: .zeros, dtype: dtype, generator: &generator)
        layerNorm = LayerNorm(channels, dtype: dtype)
    }
    public func callAsFunction(_ s: Tensor) -> Tensor {
        layerNorm(s + linear3(linear2(linear1(s).relu()).relu()))
    }
}

/// The angle ResNet: 7 torsions (ω, φ, ψ, χ1–χ4) as normalised (sin, cos) pairs.
public final class AngleResNet: Module {
    public let linearIn: Linear, linearInitial: Linear, linearOut: Linear
    public let blocks: [Linear]
    public let epsilon = 1e-12

    public init(singleChannels: Int = 384, hidden: Int = 128, residualBlocks: Int = 2, dtype: DType = .float32,
                generator: inout RandomGenerator) {
        linearIn = Linear(singleChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearInitial = Linear(singleChannels, hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        blocks = (0..<(2 * residualBlocks)).map { index in
            Linear(hidden, hidden, initialization: index % 2 == 0 ? .he : .zeros, dtype: dtype, generator: &generator)
        }
        linearOut = Linear(hidden, 14, initialization: .lecun, dtype: dtype, generator: &generator)
    }

    /// - Returns: unnormalised and normalised angles, `[B, N, 7, 2]` each.
    public func callAsFunction(_ s: Tensor, initial: Tensor) -> (unnormalized: Tensor, normalized: Tensor) {
        var a = linearIn(s.relu()) + linearInitial(initial.relu())
        for pair in stride(from: 0, to: blocks.count, by: 2) {
            a = a + blocks[pair + 1](blocks[pair](a.relu()).relu())
        }
        let angles = linearOut(a.relu()).reshaped(Array(s.shape.dropLast()) + [7, 2])
        let norm = ((angles * angles).sum(axis: -1, keepDims: true) + epsilon).sqrt()
        return (angles, angles / norm)
    }
}

public final class StructureModule: Module {
    public let layerNormS: LayerNorm, layerNormZ: LayerNorm, layerNormIPA: LayerNorm
    public let linearIn: Linear
    public let ipa: InvariantPointAttention
    public let transition: StructureModuleTransition
    public let backboneUpdate: BackboneUpdate
    public let angleResNet: AngleResNet
    /// Shared-weight iterations (8) and the nm→Å scale of the translations (10).
    public let iterations: Int, positionScale = 10.0

    public init(singleChannels: Int = 384, pairChannels: Int = 128, iterations: Int = 8, dtype: DType = .float32,
                generator: inout RandomGenerator) {
        self.iterations = iterations
        layerNormS = LayerNorm(singleChannels, dtype: dtype)
        layerNormZ = LayerNorm(pairChannels, dtype: dtype)
        layerNormIPA = LayerNorm(singleChannels, dtype: dtype)
        linearIn = Linear(singleChannels, singleChannels, initialization: .lecun, dtype: dtype, generator: &generator)
        ipa = InvariantPointAttention(singleChannels: singleChannels, pairChannels: pairChannels, dtype: dtype, generator: &generator)
        transition = StructureModuleTransition(channels: singleChannels, dtype: dtype, generator: &generator)
        backboneUpdate = BackboneUpdate(singleChannels: singleChannels, dtype: dtype, generator: &generator)
        angleResNet = AngleResNet(singleChannels: singleChannels, dtype: dtype, generator: &generator)
    }

    /// s `[B, N, c_s]`, z `[B, N, N, c_z]`, mask `[B, N]` → the final single, the frames of every
    /// iteration (translations in Å) and the last torsions `[B, N, 7, 2]`, unnormalised and normalised.
    public func callAsFunction(single s: Tensor, pair z: Tensor, mask: Tensor) -> (single: Tensor, frames: [Rigid], unnormalizedAngles: Tensor, angles: Tensor) {
        let initial = layerNormS(s)
        let pair = layerNormZ(z)
        var single = linearIn(initial)
        var frames = Rigid.identity(batch: s.shape[0], residues: s.shape[1], dtype: s.dtype)
        var trajectory: [Rigid] = []
        var angles = Tensor.zeros([0]), unnormalized = Tensor.zeros([0])
        for iteration in 0..<iterations {
            single = layerNormIPA(single + ipa(single, pair: pair, frames: frames, mask: mask))
            single = transition(single)
            frames = frames.composed(with: backboneUpdate(single))
            (unnormalized, angles) = angleResNet(single, initial: initial)
            trajectory.append(Rigid(rotation: frames.rotation, translation: frames.translation * positionScale))
            if iteration < iterations - 1 { frames = frames.stoppingRotationGradient() }
        }
        return (single, trajectory, unnormalized, angles)
    }
}
