// `scizoo md`: molecular dynamics from a recipe. The start structure (extended XYZ, its first
// frame; momenta when it has them, else a Maxwell–Boltzmann draw at temperature_K), a potential
// (Lennard-Jones with ASE's parameters for now), an integrator (velocity Verlet or Langevin), and
// the outputs: the trajectory as extended XYZ every write_every steps and the thermodynamic log
// (step, time, Epot, Ekin, T, Etot) as JSON lines, and the same frames in H5MD. A run that heats past the runaway limit or
// meets a non-finite force stops with a message naming the step.
import Foundation
import MolecularDynamics
import TensorIO

public struct MDSettings: Sendable {
    public var structure: String
    public var sigma = 1.0, epsilon = 1.0, rc: Double?, smooth = false
    public var integrator = "verlet"
    public var timestepFS = 1.0
    public var steps = 100
    public var temperatureK = 300.0
    /// Langevin friction, 1/fs.
    public var friction = 0.01
    public var seed: UInt64 = 0
    public var writeEvery = 10
    /// Stop when the temperature exceeds this (K).
    public var runawayK = 1e5
    public var baseDirectory = "."

    /// Reads an MD recipe (YAML): unknown keys name their line and the closest key.
    public static func load(from path: String) throws -> MDSettings {
        var r = try RecipeSection.load(path, expecting: "a mapping of MD settings (key: value)")
        guard let structure = try r.string("structure") else { throw FileError(file: path, key: "key 'structure'", message: "is required (an extended XYZ file)") }
        var s = MDSettings(structure: structure)
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard var potential = try r.section("potential") else { throw FileError(file: path, key: "key 'potential'", message: "is required") }
        guard try potential.string("type", oneOf: ["lj"]) != nil else {
            throw potential.problem("type", "is required: lj (the trained models plug in once their checkpoints do)")
        }
        s.sigma = try potential.double("sigma") ?? s.sigma
        s.epsilon = try potential.double("epsilon") ?? s.epsilon
        s.rc = try potential.double("rc")
        s.smooth = try potential.bool("smooth") ?? false
        try potential.finish()
        s.integrator = try r.string("integrator", oneOf: ["verlet", "langevin", "nose-hoover", "berendsen"]) ?? s.integrator
        guard ["verlet", "langevin"].contains(s.integrator) else {
            throw r.problem("integrator", "'\(s.integrator)' is not implemented yet on this runtime; use verlet or langevin")
        }
        s.timestepFS = try r.double("timestep_fs") ?? s.timestepFS
        s.steps = try r.int("steps", minimum: 1) ?? s.steps
        s.temperatureK = try r.double("temperature_K") ?? s.temperatureK
        s.friction = try r.double("friction") ?? s.friction
        s.seed = UInt64(try r.int("seed", minimum: 0) ?? 0)
        s.writeEvery = try r.int("write_every", minimum: 1) ?? s.writeEvery
        s.runawayK = try r.double("runaway_temperature_K") ?? s.runawayK
        guard s.timestepFS > 0 else { throw r.problem("timestep_fs", "must be positive, got \(s.timestepFS)") }
        try r.finish()
        return s
    }

    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
    }
}

public enum MDRun {
    public struct Summary: Sendable {
        public var steps: Int
        public var trajectory: String, h5md: String, log: String
        public var meanTemperature: Double
        public var energyDrift: Double
    }

    public static func run(_ s: MDSettings, output: String, log: (String) -> Void = { print($0) }) throws -> Summary {
        let start = try ExtendedXYZ.read(s.resolve(s.structure))
        guard var system = start.first?.system else { throw FileError(file: s.resolve(s.structure), message: "holds no frame") }
        if system.momenta.allSatisfy({ $0 == .zero }) { system.thermalize(temperatureK: s.temperatureK, seed: s.seed) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let potential = LennardJones(sigma: s.sigma, epsilon: s.epsilon, rc: s.rc, smooth: s.smooth)
        var stepper: any MDStepper = s.integrator == "langevin"
            ? try Langevin(system: system, potential: potential, timestepFS: s.timestepFS, temperatureK: s.temperatureK,
                           frictionPerFS: s.friction, seed: s.seed)
            : try VelocityVerlet(system: system, potential: potential, timestepFS: s.timestepFS)
        let trajectoryPath = output + "/trajectory.extxyz", logPath = output + "/thermo.jsonl", h5mdPath = output + "/trajectory.h5md"
        let h5md = try H5MDWriter(path: h5mdPath, species: system.numbers, periodic: system.cell.pbc)
        var frames: [AtomicFrame] = [], lines: [String] = [], temperatures: [Double] = []
        let initialEnergy = stepper.potentialEnergy + stepper.system.kineticEnergy
        func record(_ step: Int) throws {
            let system = stepper.system
            let (epot, ekin) = (stepper.potentialEnergy, system.kineticEnergy)
            let fields: [String: Any] = ["step": step, "time_fs": Double(step) * s.timestepFS, "Epot": epot, "Ekin": ekin,
                                        "T": system.temperature, "Etot": epot + ekin]
            if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) { lines.append(String(decoding: data, as: UTF8.self)) }
            try h5md.append(step: step, timeFS: Double(step) * s.timestepFS, system: system, forces: stepper.forces, potentialEnergy: epot)
            var frame = AtomicFrame(system: system, energy: epot, forces: stepper.forces)
            frame.info["step"] = "\(step)"
            frames.append(frame)
            log(String(format: "step %d/%d  t %.1f fs  Epot %.4f eV  Ekin %.4f eV  T %.1f K  Etot %.5f eV", step, s.steps,
                       Double(step) * s.timestepFS, epot, ekin, system.temperature, epot + ekin))
        }
        try record(0)
        for step in 1...s.steps {
            try stepper.advance()
            let system = stepper.system
            temperatures.append(system.temperature)
            guard stepper.forces.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else {
                throw FileError(file: s.resolve(s.structure), message: "a force became non-finite at step \(step); the timestep (\(s.timestepFS) fs) may be too long or atoms overlap")
            }
            guard system.temperature <= s.runawayK else {
                throw FileError(file: s.resolve(s.structure), message: String(format: "runaway: %.0f K at step %d exceeds runaway_temperature_K %.0f; shorten timestep_fs", system.temperature, step, s.runawayK))
            }
            if step % s.writeEvery == 0 || step == s.steps { try record(step) }
        }
        try ExtendedXYZ.write(frames, to: trajectoryPath)
        try h5md.close()
        try (lines.joined(separator: "\n") + "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
        let drift = stepper.potentialEnergy + stepper.system.kineticEnergy - initialEnergy
        return Summary(steps: s.steps, trajectory: trajectoryPath, h5md: h5mdPath, log: logPath,
                       meanTemperature: temperatures.reduce(0, +) / Double(temperatures.count), energyDrift: drift)
    }
}

/// The integrators behind one interface for the run loop.
protocol MDStepper {
    var system: AtomicSystem { get }
    var potentialEnergy: Double { get }
    var forces: [SIMD3<Double>] { get }
    mutating func advance() throws
}

extension VelocityVerlet: MDStepper {
    var potentialEnergy: Double { current.energy }
    var forces: [SIMD3<Double>] { current.forces }
    mutating func advance() throws { try step() }
}

extension Langevin: MDStepper {
    var potentialEnergy: Double { current.energy }
    var forces: [SIMD3<Double>] { current.forces }
    mutating func advance() throws { try step() }
}
