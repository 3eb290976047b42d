// Learning-rate schedules with DeepSpeed's and PyTorch's/Hugging Face's semantics.
#if canImport(Glibc)
import Glibc
#endif

/// A learning rate as a function of the step (0-based: the rate for the step about to run).
public protocol LearningRateSchedule {
    func learningRate(at step: Int) -> Double
}

/// A constant rate.
public struct ConstantLR: LearningRateSchedule {
    public let rate: Double
    public init(_ rate: Double) { self.rate = rate }
    public func learningRate(at step: Int) -> Double { rate }
}

/// How DeepSpeed's warm-up rises from its minimum to its maximum.
public enum WarmupType: String, Sendable, Codable { case log, linear }

/// DeepSpeed's warm-up factor: log(step + 1)/log(N) or step/N during the first N steps, then 1.
func deepSpeedWarmupGamma(_ step: Int, warmupSteps: Int, type: WarmupType) -> Double {
    guard step < warmupSteps else { return 1 }
    switch type {
    case .log: return warmupSteps > 1 ? Foundation_log(Double(step + 1)) / Foundation_log(Double(warmupSteps)) : 1
    case .linear: return Double(step) / Double(warmupSteps)
    }
}

@inline(__always) private func Foundation_log(_ x: Double) -> Double { log(x) }

/// DeepSpeed WarmupLR: min + (max − min)·γ(step), then max.
public struct WarmupLR: LearningRateSchedule {
    public var minimum: Double, maximum: Double, warmupSteps: Int, type: WarmupType

    public init(minimum: Double = 0, maximum: Double = 1e-3, warmupSteps: Int = 1000, type: WarmupType = .log) {
        self.minimum = minimum
        self.maximum = maximum
        self.warmupSteps = warmupSteps
        self.type = type
    }

    public func learningRate(at step: Int) -> Double {
        minimum + (maximum - minimum) * deepSpeedWarmupGamma(step, warmupSteps: warmupSteps, type: type)
    }
}

/// DeepSpeed WarmupDecayLR: WarmupLR, then linear decay to 0 at `totalSteps`.
public struct WarmupDecayLR: LearningRateSchedule {
    public var warmup: WarmupLR
    public var totalSteps: Int

    public init(warmup: WarmupLR, totalSteps: Int) {
        precondition(totalSteps > warmup.warmupSteps, "WarmupDecayLR: total_num_steps \(totalSteps) must exceed warmup_num_steps \(warmup.warmupSteps)")
        self.warmup = warmup
        self.totalSteps = totalSteps
    }

    public func learningRate(at step: Int) -> Double {
        if step < warmup.warmupSteps { return warmup.learningRate(at: step) }
        let gamma = Swift.max(0, Double(totalSteps - step) / Double(Swift.max(1, totalSteps - warmup.warmupSteps)))
        return warmup.minimum + (warmup.maximum - warmup.minimum) * gamma
    }
}

/// DeepSpeed WarmupCosineLR: a ratio of the optimiser's base rate, rising from
/// `warmupMinRatio` to 1 over the warm-up, then cosine down to `cosineMinRatio` at `totalSteps`.
public struct WarmupCosineLR: LearningRateSchedule {
    public var baseRate: Double, totalSteps: Int, warmupSteps: Int, warmupMinRatio: Double, cosineMinRatio: Double, type: WarmupType

    public init(baseRate: Double, totalSteps: Int, warmupSteps: Int = 1000, warmupMinRatio: Double = 0,
                cosineMinRatio: Double = 1e-4, type: WarmupType = .log) {
        self.baseRate = baseRate
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
        self.warmupMinRatio = warmupMinRatio
        self.cosineMinRatio = cosineMinRatio
        self.type = type
    }

    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps {
            let gamma = deepSpeedWarmupGamma(step, warmupSteps: warmupSteps, type: type)
            return baseRate * (warmupMinRatio + (1 - warmupMinRatio) * gamma)
        }
        let progress = Double(step - warmupSteps + 1) / Double(Swift.max(1, totalSteps - warmupSteps))
        let ratio = cosineMinRatio + (1 - cosineMinRatio) * (1 + cos(Double.pi * progress)) / 2
        return baseRate * Swift.max(0, ratio)
    }
}

/// Hugging Face's cosine schedule with linear warm-up (get_cosine_schedule_with_warmup).
public struct CosineWithWarmup: LearningRateSchedule {
    public var baseRate: Double, warmupSteps: Int, totalSteps: Int, cycles: Double

    public init(baseRate: Double, warmupSteps: Int, totalSteps: Int, cycles: Double = 0.5) {
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.cycles = cycles
    }

    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps { return baseRate * Double(step) / Double(Swift.max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
        return baseRate * Swift.max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
    }
}

/// PyTorch's ReduceLROnPlateau (mode "min", relative threshold): cuts the rate by `factor`
/// after `patience` evaluations without improvement, then waits `cooldown` evaluations.
public final class ReduceLROnPlateau {
    public private(set) var rate: Double
    public let factor: Double, patience: Int, threshold: Double, cooldown: Int, minimumRate: Double
    private var best = Double.infinity
    private var badEpochs = 0
    private var cooldownLeft = 0

    /// What a checkpoint keeps for a resumed run to cut the rate at the same evaluation.
    public struct State: Codable, Sendable, Equatable {
        public var rate: Double, best: Double, badEpochs: Int, cooldownLeft: Int

        public init(rate: Double, best: Double, badEpochs: Int, cooldownLeft: Int) {
            (self.rate, self.best, self.badEpochs, self.cooldownLeft) = (rate, best, badEpochs, cooldownLeft)
        }
    }

    public var state: State {
        get { State(rate: rate, best: best, badEpochs: badEpochs, cooldownLeft: cooldownLeft) }
        set { (rate, best, badEpochs, cooldownLeft) = (newValue.rate, newValue.best, newValue.badEpochs, newValue.cooldownLeft) }
    }

    public init(rate: Double, factor: Double = 0.1, patience: Int = 10, threshold: Double = 1e-4, cooldown: Int = 0,
                minimumRate: Double = 0) {
        precondition(factor < 1, "ReduceLROnPlateau: factor must be < 1, got \(factor)")
        self.rate = rate
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.minimumRate = minimumRate
    }

    /// Records a validation metric; returns the rate to use next.
    @discardableResult
    public func step(metric: Double) -> Double {
        if metric < best * (1 - threshold) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            rate = Swift.max(rate * factor, minimumRate)
            cooldownLeft = cooldown
            badEpochs = 0
        }
        return rate
    }
}

/// Lightning Bolts' LinearWarmupCosineAnnealingLR as ClimaX steps it (once per optimiser step):
/// `warmupStart` at step 0, linear to `baseRate` at step warmupSteps − 1, then cosine from
/// `baseRate` to `minimum` at `totalSteps`.
public struct LinearWarmupCosineAnnealing: LearningRateSchedule {
    public var baseRate: Double, warmupSteps: Int, totalSteps: Int, warmupStart: Double, minimum: Double

    public init(baseRate: Double, warmupSteps: Int, totalSteps: Int, warmupStart: Double = 1e-8, minimum: Double = 1e-8) {
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.warmupStart = warmupStart
        self.minimum = minimum
    }

    public func learningRate(at step: Int) -> Double {
        if step < warmupSteps {
            guard warmupSteps > 1 else { return baseRate }
            return warmupStart + Double(step) * (baseRate - warmupStart) / Double(warmupSteps - 1)
        }
        let progress = Double(Swift.min(step, totalSteps) - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
        return minimum + 0.5 * (baseRate - minimum) * (1 + cos(Double.pi * progress))
    }
}
