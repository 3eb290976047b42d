// DeepSpeed's legacy curriculum learning by sequence length (`curriculum_learning`, the schedule of
// deepspeed/runtime/data_pipeline/curriculum_scheduler.py, used by Megatron-DeepSpeed as
// `curriculum_seqlen`): early steps train on the first tokens of each sequence, later ones on more.
import Foundation
import TensorIO

public struct CurriculumSchedule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// ((step / total)^(1/degree)) of the way from min to max, rounded down to a multiple of
        /// `difficultyStep` (fixed_linear is degree 1).
        case root(totalSteps: Int, difficultyStep: Int, degree: Double)
        /// `difficulties[i]` up to step `maxSteps[i]`, the last difficulty after.
        case discrete(difficulties: [Int], maxSteps: [Int])
    }

    public var minDifficulty: Int
    public var maxDifficulty: Int
    public var kind: Kind

    public init(minDifficulty: Int, maxDifficulty: Int, kind: Kind) {
        (self.minDifficulty, self.maxDifficulty, self.kind) = (minDifficulty, maxDifficulty, kind)
    }

    /// The sequence length of optimiser step `step` (1-based, as DeepSpeed's engine asks for
    /// `global_steps + 1` before the forward pass).
    public func difficulty(step: Int) -> Int {
        switch kind {
        case let .root(total, difficultyStep, degree):
            let fraction = Swift.max(0, Double(step) / Double(total))
            var next = Int((fraction.rootOf(degree) * Double(maxDifficulty - minDifficulty) + Double(minDifficulty)).rounded(.down))
            next -= next % difficultyStep
            return Swift.min(next, maxDifficulty)
        case let .discrete(difficulties, maxSteps):
            if step > maxSteps.last! { return difficulties.last! }
            return difficulties[maxSteps.firstIndex { step <= $0 }!]
        }
    }

    /// Reads a `curriculum_learning` section; nil when it is disabled. Only the sequence-length
    /// curriculum exists here: the other metrics need per-sample difficulty files.
    static func parse(_ s: inout RecipeSection) throws -> CurriculumSchedule? {
        guard try s.bool("enabled", false) else {
            s.accept(s.keys)
            return nil
        }
        let type = try s.string("curriculum_type", nil)
        guard type == "seqlen" else {
            throw s.error("curriculum_type", expected: "\"seqlen\" (the sequence-length curriculum; other metrics need DeepSpeed's per-sample difficulty index files)")
        }
        guard let low = try s.optionalInt("min_difficulty"), let high = try s.optionalInt("max_difficulty"), low <= high else {
            throw s.error("min_difficulty", expected: "positive integers min_difficulty ≤ max_difficulty")
        }
        let scheduleType = try s.string("schedule_type", nil, oneOf: ["fixed_linear", "fixed_root", "fixed_discrete", "custom"])
        guard var config = try s.section("schedule_config") else { throw s.error("schedule_config", expected: "a mapping of the schedule's settings") }
        let kind: Kind
        switch scheduleType {
        case "fixed_linear", "fixed_root":
            guard let total = try config.optionalInt("total_curriculum_step"), let step = try config.optionalInt("difficulty_step") else {
                throw config.error("total_curriculum_step", expected: "positive integers total_curriculum_step and difficulty_step")
            }
            let degree = scheduleType == "fixed_root" ? try config.double("root_degree") : 1
            guard let degree, degree > 0 else { throw config.error("root_degree", expected: "a positive number (fixed_root)") }
            kind = .root(totalSteps: total, difficultyStep: step, degree: degree)
        case "fixed_discrete":
            let difficulties = try config.ints("difficulty") ?? [], maxSteps = try config.ints("max_step") ?? []
            guard !maxSteps.isEmpty, difficulties.count == maxSteps.count + 1, zip(maxSteps, maxSteps.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw config.error("difficulty", expected: "one more difficulty than max_step entries, with max_step increasing")
            }
            kind = .discrete(difficulties: difficulties, maxSteps: maxSteps)
        default:
            throw s.error("schedule_type", expected: "fixed_linear, fixed_root or fixed_discrete (custom needs a Python function)")
        }
        try config.finish()
        return CurriculumSchedule(minDifficulty: low, maxDifficulty: high, kind: kind)
    }
}

extension Double {
    /// self^(1/degree).
    fileprivate func rootOf(_ degree: Double) -> Double { degree == 1 ? self : Foundation.pow(self, 1 / degree) }
}
