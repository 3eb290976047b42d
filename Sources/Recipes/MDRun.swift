// `scizoo md`: molecular dynamics from a recipe. The start structure (extended XYZ, its first
// frame; momenta when it has them, else a Maxwell–Boltzmann draw at temperature_K), a potential
// (Lennard-Jones with ASE's parameters, or a force field trained by mlff-train), an integrator
// (velocity Verlet, Langevin, Berendsen, Nosé–Hoover chain, each stepped as ASE steps it), and the
// outputs: the trajectory as extended XYZ and H5MD every write_every steps and the thermodynamic
// log (step, time, Epot, Ekin, T, Etot) as JSON lines. A restart file every restart_every steps
// lets `--resume` continue bit for bit. A run that heats past the runaway limit or meets a
// non-finite force stops with a message naming the step.
import Foundation
import MolecularDynamics
import TensorCore
import TensorIO

public struct MDSettings: Sendable, RecipePaths {
    public enum PotentialChoice: Sendable, Equatable {
        case lennardJones(sigma: Double, epsilon: Double, rc: Double?, smooth: Bool)
        /// A checkpoint of mlff-train (its averaged weights), with the Verlet skin (Å).
        case model(checkpoint: String, skin: Double)
    }

    public var structure: String
    public var potential = PotentialChoice.lennardJones(sigma: 1, epsilon: 1, rc: nil, smooth: false)
    /// The model potential's precision (the checkpoint's own when nil).
    public var dtype: DType?
    public var integrator = "verlet"
    public var timestepFS = 1.0
    public var steps = 100
    public var temperatureK = 300.0
    /// Langevin friction, 1/fs.
    public var friction = 0.01
    /// Berendsen's relaxation time (ASE's taut), fs.
    public var tautFS = 100.0
    /// Nosé–Hoover's damping time (ASE's tdamp; default 100 timesteps), chain length and sub-steps.
    public var tdampFS: Double?
    public var tchain = 3, tloop = 1
    public var seed: UInt64 = 0
    public var writeEvery = 10
    /// Write the restart file every this many steps (and at the end).
    public var restartEvery = 100
    /// Stop when the temperature exceeds this (K).
    public var runawayK = 1e5
    public var baseDirectory = "."
    /// The recipe as read: a restart must come from the same one.
    public var json = "{}"
    /// Where this invocation stops (nil: at `steps`); not part of the recipe.
    var stopAtStep: Int?

    /// Reads an MD recipe (YAML): unknown keys name their line and the closest key.
    public static func load(from path: String) throws -> MDSettings {
        var r = try RecipeSection.load(path, expecting: "a mapping of MD settings (key: value)")
        guard let structure = try r.string("structure") else { throw FileError(file: path, key: "key 'structure'", message: "is required (an extended XYZ file)") }
        var s = MDSettings(structure: structure)
        s.baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        s.json = r.json
        guard var potential = try r.section("potential") else { throw FileError(file: path, key: "key 'potential'", message: "is required") }
        switch try potential.string("type", oneOf: ["lj", "model"]) {
        case "lj":
            s.potential = .lennardJones(sigma: try potential.double("sigma") ?? 1, epsilon: try potential.double("epsilon") ?? 1,
                                        rc: try potential.double("rc"), smooth: try potential.bool("smooth") ?? false)
        case "model":
            guard let checkpoint = try potential.string("checkpoint") else {
                throw potential.problem("checkpoint", "is required for type model: a checkpoint of scizoo mlff-train (best.h5)")
            }
            s.potential = .model(checkpoint: checkpoint, skin: try potential.double("skin") ?? 0.5)
        default: throw potential.problem("type", "is required: lj (sigma, epsilon, rc, smooth) or model (checkpoint, skin)")
        }
        try potential.finish()
        if let name = try r.string("dtype", oneOf: ["float32", "float64"]) { s.dtype = name == "float64" ? .float64 : .float32 }
        s.integrator = try r.string("integrator", oneOf: ["verlet", "langevin", "nose-hoover", "berendsen"]) ?? s.integrator
        s.timestepFS = try r.double("timestep_fs") ?? s.timestepFS
        s.steps = try r.int("steps", minimum: 1) ?? s.steps
        s.temperatureK = try r.double("temperature_K") ?? s.temperatureK
        s.friction = try r.double("friction") ?? s.friction
        s.tautFS = try r.double("taut_fs") ?? s.tautFS
        s.tdampFS = try r.double("tdamp_fs")
        s.tchain = try r.int("tchain", minimum: 1) ?? s.tchain
        s.tloop = try r.int("tloop", minimum: 1) ?? s.tloop
        s.seed = UInt64(try r.int("seed", minimum: 0) ?? 0)
        s.writeEvery = try r.int("write_every", minimum: 1) ?? s.writeEvery
        s.restartEvery = try r.int("restart_every", minimum: 1) ?? s.restartEvery
        s.runawayK = try r.double("runaway_temperature_K") ?? s.runawayK
        guard s.timestepFS > 0 else { throw r.problem("timestep_fs", "must be positive, got \(s.timestepFS)") }
        guard s.tautFS > 0, (s.tdampFS ?? 1) > 0 else { throw r.problem(s.tautFS > 0 ? "tdamp_fs" : "taut_fs", "must be positive") }
        guard s.temperatureK >= 0, s.friction >= 0 else { throw r.problem(s.temperatureK >= 0 ? "friction" : "temperature_K", "must not be negative") }
        try r.finish()
        return s
    }
}

public enum MDRun {
    public struct Summary: Sendable {
        public var steps: Int
        public var trajectory: String, h5md: String, log: String
        public var meanTemperature: Double
        /// Etot(end) − Etot(start), eV (with the thermostat's energy for Nosé–Hoover).
        public var energyDrift: Double
    }

    /// Runs the recipe into `output`; with `resume`, continues from `output/restart.h5`; with
    /// `stopAtStep`, ends there with a restart file (a job with a wall-time limit).
    public static func run(_ s: MDSettings, output: String, resume: Bool = false, stopAtStep: Int? = nil,
                           log: (String) -> Void = { print($0) }) throws -> Summary {
        var s = s
        s.stopAtStep = stopAtStep
        let start = try ExtendedXYZ.read(s.resolve(s.structure))
        guard var system = start.first?.system else { throw FileError(file: s.resolve(s.structure), message: "holds no frame") }
        if system.momenta.allSatisfy({ $0 == .zero }) { system.thermalize(temperatureK: s.temperatureK, seed: s.seed) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        switch s.potential {
        case .lennardJones(let sigma, let epsilon, let rc, let smooth):
            return try run(s, system: system, potential: LennardJones(sigma: sigma, epsilon: epsilon, rc: rc, smooth: smooth),
                           output: output, resume: resume, log: log)
        case .model(let checkpoint, let skin):
            let model = try MLFFCheckpoint.load(s.resolve(checkpoint), dtype: s.dtype).model
            log("potential: \(model is PaiNN ? "PaiNN" : "SchNet") from \(s.resolve(checkpoint)) (cutoff \(model.cutoff) Å, skin \(skin) Å)")
            return try runModel(model, skin: skin, s, system: system, output: output, resume: resume, log: log)
        }
    }

    private static func runModel<Model: AtomisticModel>(_ model: Model, skin: Double, _ s: MDSettings, system: AtomicSystem, output: String,
                                                        resume: Bool, log: (String) -> Void) throws -> Summary {
        model.eval()
        return try run(s, system: system, potential: MLPotential(model: model, skin: skin), output: output, resume: resume, log: log)
    }

    private static func run<P: Potential>(_ s: MDSettings, system: AtomicSystem, potential: P, output: String, resume: Bool,
                                          log: (String) -> Void) throws -> Summary {
        switch s.integrator {
        case "langevin":
            var stepper = try Langevin(system: system, potential: potential, timestepFS: s.timestepFS, temperatureK: s.temperatureK,
                                       frictionPerFS: s.friction, seed: s.seed)
            return try loop(&stepper, s, output: output, resume: resume, conserved: { _ in 0 }, log: log)
        case "berendsen":
            var stepper = try Berendsen(system: system, potential: potential, timestepFS: s.timestepFS, temperatureK: s.temperatureK, relaxationFS: s.tautFS)
            return try loop(&stepper, s, output: output, resume: resume, conserved: { _ in 0 }, log: log)
        case "nose-hoover":
            var stepper = try NoseHooverChain(system: system, potential: potential, timestepFS: s.timestepFS, temperatureK: s.temperatureK,
                                              dampingFS: s.tdampFS ?? 100 * s.timestepFS, chainLength: s.tchain, loops: s.tloop)
            return try loop(&stepper, s, output: output, resume: resume, conserved: { $0.thermostatEnergy }, log: log)
        default:
            var stepper = try VelocityVerlet(system: system, potential: potential, timestepFS: s.timestepFS)
            return try loop(&stepper, s, output: output, resume: resume, conserved: { _ in 0 }, log: log)
        }
    }

    /// The step loop shared by every integrator. `conserved` adds the integrator's own energy
    /// (the Nosé–Hoover thermostat's) to the drift.
    private static func loop<I: Integrator>(_ stepper: inout I, _ s: MDSettings, output: String, resume: Bool,
                                            conserved: (I) -> Double, log: (String) -> Void) throws -> Summary {
        let trajectoryPath = output + "/trajectory.extxyz", logPath = output + "/thermo.jsonl", h5mdPath = output + "/trajectory.h5md"
        let restartPath = output + "/restart.h5"
        let partialTrajectory = trajectoryPath + ".partial", partialLog = logPath + ".partial"
        var first = 1, initialEnergy = stepper.current.energy + stepper.system.kineticEnergy + conserved(stepper), temperatureSum = 0.0
        var keptFrames: [AtomicFrame] = [], keptLines: [String] = []
        if resume {
            let restart = try MDRestart.read(restartPath, recipe: s.json)
            try stepper.restore(system: restart.system(like: stepper.system), state: restart.state, neighbourReference: restart.neighbourReference)
            (first, initialEnergy, temperatureSum) = (restart.step + 1, restart.initialEnergy, restart.temperatureSum)
            // What the earlier run wrote up to the restart step stays; anything after it goes.
            keptFrames = try ExtendedXYZ.read(partialTrajectory).filter { Int($0.info["step"] ?? "") ?? .max <= restart.step }
            keptLines = try String(contentsOfFile: partialLog, encoding: .utf8).split(separator: "\n").map(String.init).prefix(keptFrames.count).map { $0 }
            log("resumed from \(restartPath) at step \(restart.step)")
        }
        let species = stepper.system.numbers
        let h5md = try H5MDWriter(path: h5mdPath, species: species, periodic: stepper.system.cell.pbc)
        for frame in keptFrames {
            let step = Int(frame.info["step"]!)!
            try h5md.append(step: step, timeFS: Double(step) * s.timestepFS, system: frame.system, forces: frame.forces ?? [], potentialEnergy: frame.energy ?? 0)
        }
        let trajectory = try AppendingFile(path: partialTrajectory, startingWith: ExtendedXYZ.format(keptFrames))
        let thermo = try AppendingFile(path: partialLog, startingWith: keptLines.map { $0 + "\n" }.joined())

        func record(_ step: Int) throws {
            let system = stepper.system
            let (epot, ekin) = (stepper.current.energy, system.kineticEnergy)
            let fields: [String: Any] = ["step": step, "time_fs": Double(step) * s.timestepFS, "Epot": epot, "Ekin": ekin,
                                        "T": system.temperature, "Etot": epot + ekin]
            try thermo.append(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self) + "\n")
            try h5md.append(step: step, timeFS: Double(step) * s.timestepFS, system: system, forces: stepper.current.forces, potentialEnergy: epot)
            var frame = AtomicFrame(system: system, energy: epot, forces: stepper.current.forces)
            frame.info["step"] = "\(step)"
            try trajectory.append(ExtendedXYZ.format([frame]))
            log(String(format: "step %d/%d  t %.1f fs  Epot %.4f eV  Ekin %.4f eV  T %.1f K  Etot %.5f eV", step, s.steps,
                       Double(step) * s.timestepFS, epot, ekin, system.temperature, epot + ekin))
        }
        if first == 1 { try record(0) }
        let last = Swift.min(s.steps, s.stopAtStep ?? s.steps)
        if first <= last {
            for step in first...last {
                try stepper.step()
                let system = stepper.system
                temperatureSum += system.temperature
                guard stepper.current.forces.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else {
                    throw FileError(file: s.resolve(s.structure), message: "a force became non-finite at step \(step); the timestep (\(s.timestepFS) fs) may be too long or atoms overlap")
                }
                guard system.temperature <= s.runawayK else {
                    throw FileError(file: s.resolve(s.structure), message: String(format: "runaway: %.0f K at step %d exceeds runaway_temperature_K %.0f; shorten timestep_fs", system.temperature, step, s.runawayK))
                }
                if step % s.writeEvery == 0 || step == s.steps { try record(step) }
                if step % s.restartEvery == 0 || step == last {
                    // The outputs reach the disk before the restart file that vouches for them.
                    try trajectory.synchronize()
                    try thermo.synchronize()
                    try MDRestart(step: step, positions: system.positions, momenta: system.momenta, state: stepper.state,
                                  neighbourReference: stepper.neighbourReference, initialEnergy: initialEnergy, temperatureSum: temperatureSum)
                        .write(to: restartPath, recipe: s.json)
                }
            }
        }
        if last < s.steps {
            try trajectory.synchronize()
            try thermo.synchronize()
            log("stopped at step \(last) as asked; continue with --resume")
            return Summary(steps: last, trajectory: partialTrajectory, h5md: h5mdPath, log: partialLog,
                           meanTemperature: temperatureSum / Double(Swift.max(last, 1)), energyDrift: .nan)
        }
        try trajectory.finish(as: trajectoryPath)
        try thermo.finish(as: logPath)
        try h5md.close()
        let drift = stepper.current.energy + stepper.system.kineticEnergy + conserved(stepper) - initialEnergy
        return Summary(steps: s.steps, trajectory: trajectoryPath, h5md: h5mdPath, log: logPath,
                       meanTemperature: temperatureSum / Double(s.steps), energyDrift: drift)
    }
}

/// Where an MD run stands after a step, for `--resume`: the atoms' positions and momenta, the
/// integrator's own state, the neighbour list's reference positions, and the running sums.
struct MDRestart {
    var step: Int
    var positions: [SIMD3<Double>], momenta: [SIMD3<Double>]
    var state: [Double]
    var neighbourReference: [SIMD3<Double>]
    var initialEnergy: Double, temperatureSum: Double

    func system(like template: AtomicSystem) -> AtomicSystem {
        var system = template
        (system.positions, system.momenta) = (positions, momenta)
        return system
    }

    func write(to path: String, recipe: String) throws {
        func flat(_ v: [SIMD3<Double>]) -> [Double] { v.flatMap { [$0.x, $0.y, $0.z] } }
        try HDF5File.writeAtomically(to: path) { file in
            let root = try file.root
            try root.setAttribute("format", .string("scizoo-md-restart"))
            try root.setAttribute("recipe", .string(recipe))
            try root.setAttribute("step", .int(Int64(step)))
            try root.write("positions", flat(positions), shape: [positions.count, 3])
            try root.write("momenta", flat(momenta), shape: [momenta.count, 3])
            try root.write("integrator_state", state, shape: [state.count])
            try root.write("neighbour_reference", flat(neighbourReference), shape: [neighbourReference.count, 3])
            try root.write("sums", [initialEnergy, temperatureSum], shape: [2])
        }
    }

    static func read(_ path: String, recipe: String) throws -> MDRestart {
        guard FileManager.default.fileExists(atPath: path) else { throw FileError(file: path, message: "no restart file to resume from (run without --resume first)") }
        let file = try HDF5File(path: path)
        defer { try? file.close() }
        let root = try file.root
        guard case .string(let format) = try root.attribute("format"), format == "scizoo-md-restart" else {
            throw FileError(file: path, message: "not an MD restart file")
        }
        guard case .string(let saved) = try root.attribute("recipe"), saved == recipe else {
            throw FileError(file: path, message: "was written by another recipe; resume with the recipe that started the run")
        }
        guard case .int(let step) = try root.attribute("step") else { throw FileError(file: path, message: "has no step") }
        func vectors(_ name: String) throws -> [SIMD3<Double>] {
            let v: [Double] = try root.dataset(name).read()
            return (0..<(v.count / 3)).map { SIMD3(v[3 * $0], v[3 * $0 + 1], v[3 * $0 + 2]) }
        }
        let sums: [Double] = try root.dataset("sums").read()
        return MDRestart(step: Int(step), positions: try vectors("positions"), momenta: try vectors("momenta"),
                         state: try root.dataset("integrator_state").read(), neighbourReference: try vectors("neighbour_reference"),
                         initialEnergy: sums[0], temperatureSum: sums[1])
    }
}

/// An output written as it grows under a temporary name, renamed into place when the run ends.
final class AppendingFile {
    let path: String
    private let handle: FileHandle

    init(path: String, startingWith text: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), let handle = FileHandle(forWritingAtPath: path) else {
            throw FileError(file: path, message: "cannot create the file")
        }
        self.handle = handle
        _ = try handle.seekToEnd()
    }

    func append(_ text: String) throws {
        do { try handle.write(contentsOf: Data(text.utf8)) } catch { throw FileError(file: path, message: "cannot write (\(error.localizedDescription))") }
    }

    func synchronize() throws { try handle.synchronize() }

    func finish(as final: String) throws {
        try handle.synchronize()
        try handle.close()
        guard rename(path, final) == 0 else { throw FileError(file: final, message: "cannot rename \(path) into place") }
    }
}
