// MD under mpirun by spatial decomposition: the periodic cell is cut into slabs along its first
// cell vector, one per rank. A rank owns the atoms whose wrapped fractional coordinate lies in its
// slab and integrates them (velocity Verlet, ASE's step). Every force evaluation
// 1. sends each owned atom as a ghost to every rank whose slab lies within the halo of it (the
//    model's receptive field: cutoff × message-passing depth),
// 2. builds the neighbour list over owned + ghost atoms with the full periodic cell (so images,
//    including cells smaller than twice the cutoff, come out as on one rank),
// 3. sums the owned atoms' energies and takes its gradient in all local positions by autograd,
// 4. returns the gradients on ghosts to their owners (the reverse halo), who add them,
// so the forces are exactly −∂E/∂R of the whole system, summed in another order. After each drift
// atoms that left their slab migrate to their new owner. Outputs are gathered on rank 0.
import Foundation
import Graphs
import MolecularDynamics
import ParallelRuntime
import TensorCore
import TensorIO

/// Which rank owns a position, and which ranks need it as a ghost.
struct SlabDecomposition {
    let cell: PeriodicCell
    let ranks: Int
    /// The halo in units of the first fractional coordinate.
    let haloFraction: Double
    /// Rows of the inverse cell: s = r · inverse[:, 0] gives the first fractional coordinate.
    private let reciprocal: SIMD3<Double>

    init(cell: PeriodicCell, ranks: Int, halo: Double) {
        let (a, b, c) = (cell.vectors[0], cell.vectors[1], cell.vectors[2])
        let bc = SIMD3(b.y * c.z - b.z * c.y, b.z * c.x - b.x * c.z, b.x * c.y - b.y * c.x)
        let volume = (a * bc).sum()
        reciprocal = bc / volume
        // The distance between the planes s = const one unit apart is V / |b × c|.
        let width = abs(volume) / (bc * bc).sum().squareRoot()
        (self.cell, self.ranks, haloFraction) = (cell, ranks, halo / width)
    }

    func fraction(_ r: SIMD3<Double>) -> Double {
        let s = (r * reciprocal).sum()
        return s - s.rounded(.down)
    }

    func owner(_ r: SIMD3<Double>) -> Int { Swift.min(ranks - 1, Int(fraction(r) * Double(ranks))) }

    /// The other ranks whose slab comes within the halo of `r` (periodically).
    func ghostTargets(_ r: SIMD3<Double>, owner: Int) -> [Int] {
        let s = fraction(r)
        return (0..<ranks).filter { q in
            guard q != owner else { return false }
            let low = Double(q) / Double(ranks), high = Double(q + 1) / Double(ranks)
            // Periodic distance from s to the interval [low, high).
            let inside = s >= low && s < high
            let distance = inside ? 0 : Swift.min(Self.periodic(low - s), Self.periodic(s - high))
            return distance < haloFraction
        }
    }

    private static func periodic(_ d: Double) -> Double { d - d.rounded(.down) }
}

/// The atoms one rank owns.
struct OwnedAtoms {
    var ids: [Int] = [], numbers: [Int] = [], masses: [Double] = []
    var positions: [SIMD3<Double>] = [], momenta: [SIMD3<Double>] = [], forces: [SIMD3<Double>] = []

    var count: Int { ids.count }

    /// Fields per atom in a message: id, number, mass, position, momentum, force.
    static let width = 12

    func packed(_ k: Int) -> [Double] {
        let (r, p, f) = (positions[k], momenta[k], forces.isEmpty ? .zero : forces[k])
        return [Double(ids[k]), Double(numbers[k]), masses[k], r.x, r.y, r.z, p.x, p.y, p.z, f.x, f.y, f.z]
    }

    mutating func append(packed v: ArraySlice<Double>) {
        let b = v.startIndex
        ids.append(Int(v[b])); numbers.append(Int(v[b + 1])); masses.append(v[b + 2])
        positions.append(SIMD3(v[b + 3], v[b + 4], v[b + 5])); momenta.append(SIMD3(v[b + 6], v[b + 7], v[b + 8]))
        forces.append(SIMD3(v[b + 9], v[b + 10], v[b + 11]))
    }

    /// Ordered by global id, so that every run lays its atoms out alike.
    mutating func sortByID() {
        let order = ids.indices.sorted { ids[$0] < ids[$1] }
        (ids, numbers, masses) = (order.map { ids[$0] }, order.map { numbers[$0] }, order.map { masses[$0] })
        (positions, momenta, forces) = (order.map { positions[$0] }, order.map { momenta[$0] }, order.map { forces[$0] })
    }
}

/// Velocity Verlet over slab domains.
final class DistributedVerlet<Model: AtomisticModel> {
    let model: Model
    let world: any Communicator
    let decomposition: SlabDecomposition
    let timestep: Double
    private(set) var atoms = OwnedAtoms()
    private(set) var potentialEnergy = 0.0
    /// Ghosts received in the last force evaluation (for the scaling report).
    private(set) var ghostCount = 0

    /// `system` is the whole start structure (every rank reads the same file); each rank keeps its slab.
    init(model: Model, system: AtomicSystem, world: any Communicator, timestepFS: Double, depth: Int) throws {
        guard system.cell.pbc.allSatisfy({ $0 }) else {
            throw LaunchError("spatial decomposition needs a periodic cell on all three axes; run a molecule on one rank")
        }
        self.model = model
        self.world = world
        decomposition = SlabDecomposition(cell: system.cell, ranks: world.size, halo: model.cutoff * Double(depth))
        timestep = timestepFS * Units.fs
        for k in 0..<system.count where decomposition.owner(system.positions[k]) == world.rank {
            atoms.ids.append(k); atoms.numbers.append(system.numbers[k]); atoms.masses.append(system.masses[k])
            atoms.positions.append(system.positions[k]); atoms.momenta.append(system.momenta[k])
        }
        try computeForces()
    }

    func step() throws {
        let dt = timestep
        for k in 0..<atoms.count {
            atoms.momenta[k] += 0.5 * dt * atoms.forces[k]
            atoms.positions[k] += dt * atoms.momenta[k] / atoms.masses[k]
        }
        try migrate()
        try computeForces()
        for k in 0..<atoms.count { atoms.momenta[k] += 0.5 * dt * atoms.forces[k] }
    }

    /// Atoms that left this rank's slab go to their new owner.
    private func migrate() throws {
        var blocks = [[Double]](repeating: [], count: world.size), kept = OwnedAtoms()
        for k in 0..<atoms.count {
            let owner = decomposition.owner(atoms.positions[k])
            if owner == world.rank {
                kept.append(packed: atoms.packed(k)[...])
            } else {
                blocks[owner] += atoms.packed(k)
            }
        }
        let received = try world.allToAllV(blocks)
        for block in received { for start in stride(from: 0, to: block.count, by: OwnedAtoms.width) { kept.append(packed: block[start..<(start + OwnedAtoms.width)]) } }
        kept.sortByID()
        atoms = kept
    }

    /// Halo exchange, the owned atoms' energy and its gradient, the reverse halo; sets the forces.
    private func computeForces() throws {
        var blocks = [[Double]](repeating: [], count: world.size)
        for k in 0..<atoms.count {
            let r = atoms.positions[k]
            for q in decomposition.ghostTargets(r, owner: world.rank) { blocks[q] += [Double(atoms.ids[k]), Double(atoms.numbers[k]), r.x, r.y, r.z] }
        }
        let received = try world.allToAllV(blocks)
        var numbers = atoms.numbers, positions = atoms.positions
        var ghostOwner: [Int] = [], ghostID: [Int] = []
        for (source, block) in received.enumerated() {
            for start in stride(from: 0, to: block.count, by: 5) {
                ghostID.append(Int(block[start])); ghostOwner.append(source)
                numbers.append(Int(block[start + 1])); positions.append(SIMD3(block[start + 2], block[start + 3], block[start + 4]))
            }
        }
        ghostCount = ghostID.count
        let pairs = try NeighbourList.build(positions: positions, cutoff: model.cutoff, cell: decomposition.cell, maxNeighbours: model.maxNeighbours)
        let graph = AtomisticGraph(batch: [(numbers, positions, pairs, decomposition.cell.vectors)], dtype: model.dtype)
        let energies = model.atomicEnergies(graph)
        let owned = energies.sliced(axis: 0, 0, atoms.count).sum()
        let gradient = try grad(of: owned, wrt: graph.positions).doubles
        var forces = (0..<atoms.count).map { SIMD3(-gradient[3 * $0], -gradient[3 * $0 + 1], -gradient[3 * $0 + 2]) }
        // The reverse halo: −∂E_owned/∂r_ghost belongs to the ghost's owner.
        var back = [[Double]](repeating: [], count: world.size)
        for (g, id) in ghostID.enumerated() {
            let k = atoms.count + g
            back[ghostOwner[g]] += [Double(id), -gradient[3 * k], -gradient[3 * k + 1], -gradient[3 * k + 2]]
        }
        let returned = try world.allToAllV(back)
        let index = Dictionary(uniqueKeysWithValues: atoms.ids.enumerated().map { ($1, $0) })
        for block in returned {
            for start in stride(from: 0, to: block.count, by: 4) {
                forces[index[Int(block[start])]!] += SIMD3(block[start + 1], block[start + 2], block[start + 3])
            }
        }
        atoms.forces = forces
        potentialEnergy = try world.allReduce([owned.item()], .sum)[0]
    }

    /// Kinetic energy of the whole system (every rank gets it).
    func kineticEnergy() throws -> Double {
        let mine = (0..<atoms.count).reduce(0.0) { $0 + (atoms.momenta[$1] * atoms.momenta[$1]).sum() / (2 * atoms.masses[$1]) }
        return try world.allReduce([mine], .sum)[0]
    }

    /// The whole system on every rank, atoms in id order (for output).
    func gathered(template: AtomicSystem) throws -> (system: AtomicSystem, forces: [SIMD3<Double>]) {
        let mine = (0..<atoms.count).flatMap { atoms.packed($0) }
        var all = OwnedAtoms()
        for block in try world.allGatherV(mine) { for start in stride(from: 0, to: block.count, by: OwnedAtoms.width) { all.append(packed: block[start..<(start + OwnedAtoms.width)]) } }
        all.sortByID()
        var system = template
        (system.positions, system.momenta) = (all.positions, all.momenta)
        return (system, all.forces)
    }
}

public enum DistributedMD {
    public struct Summary: Sendable {
        public var steps: Int
        public var secondsPerStep: Double
        public var energyDrift: Double
        public var ghostsPerRank: Int
    }

    /// `scizoo md` under mpirun: velocity Verlet over slab domains, outputs from rank 0; with
    /// `resume`, continues from `output/restart.h5` (written by rank 0 every `restart_every` steps
    /// and at a `stopAtStep`), bit for bit on the same number of ranks.
    public static func run(_ s: MDSettings, output: String, world: any Communicator, resume: Bool = false, stopAtStep: Int? = nil,
                           log: (String) -> Void) throws -> Summary {
        guard s.integrator == "verlet" else {
            throw LaunchError("under mpirun, md runs velocity Verlet by spatial decomposition; integrator '\(s.integrator)' runs on one rank")
        }
        var s = s
        s.stopAtStep = stopAtStep
        let start = try ExtendedXYZ.read(s.resolve(s.structure))
        guard var system = start.first?.system else { throw FileError(file: s.resolve(s.structure), message: "holds no frame") }
        if system.momenta.allSatisfy({ $0 == .zero }) { system.thermalize(temperatureK: s.temperatureK, seed: s.seed) }
        switch s.potential {
        case .lennardJones(let sigma, let epsilon, let rc, let smooth):
            return try run(LennardJonesModel(sigma: sigma, epsilon: epsilon, rc: rc, smooth: smooth), depth: 1, s, system: system,
                           output: output, world: world, resume: resume, log: log)
        case .model(let checkpoint, _):
            let model = try MLFFCheckpoint.load(s.resolve(checkpoint), dtype: s.dtype).model
            let depth = (model as? SchNet)?.configuration.nInteractions ?? (model as? PaiNN)?.configuration.nInteractions
                ?? (model as? ViSNet)?.configuration.numLayers ?? 1
            return try runOpened(model, depth: depth, s, system: system, output: output, world: world, resume: resume, log: log)
        }
    }

    private static func runOpened<Model: AtomisticModel>(_ model: Model, depth: Int, _ s: MDSettings, system: AtomicSystem, output: String,
                                                         world: any Communicator, resume: Bool, log: (String) -> Void) throws -> Summary {
        try run(model, depth: depth, s, system: system, output: output, world: world, resume: resume, log: log)
    }

    static func run<Model: AtomisticModel>(_ model: Model, depth: Int, _ s: MDSettings, system: AtomicSystem, output: String,
                                           world: any Communicator, resume: Bool = false, log: (String) -> Void) throws -> Summary {
        model.eval()
        let primary = world.rank == 0
        if primary { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
        let trajectoryPath = output + "/trajectory.extxyz", logPath = output + "/thermo.jsonl", restartPath = output + "/restart.h5"
        let partialTrajectory = trajectoryPath + ".partial", partialLog = logPath + ".partial"
        // Every rank reads the restart file (the output folder is shared, as the structure file is).
        var start = system, first = 1, restart: MDRestart?
        if resume {
            let saved = try MDRestart.read(restartPath, recipe: s.json)
            guard saved.positions.count == system.count else {
                throw FileError(file: restartPath, message: "holds \(saved.positions.count) atoms; the recipe's structure has \(system.count)")
            }
            (start, first, restart) = (saved.system(like: system), saved.step + 1, saved)
        }
        let engine = try DistributedVerlet(model: model, system: start, world: world, timestepFS: s.timestepFS, depth: depth)
        log("spatial decomposition: \(world.size) slabs along the first cell vector, halo \(String(format: "%.2f", model.cutoff * Double(depth))) Å "
            + "(cutoff × \(depth)); rank 0 owns \(engine.atoms.count) atoms and sees \(engine.ghostCount) ghosts")
        let initial = try restart?.initialEnergy ?? engine.potentialEnergy + engine.kineticEnergy()
        // Rank 0 streams the outputs under temporary names; a resume keeps what the restart step vouches for.
        var trajectory: AppendingFile?, thermo: AppendingFile?
        if primary {
            var keptFrames: [AtomicFrame] = [], keptLines: [String] = []
            if let restart {
                keptFrames = try ExtendedXYZ.read(partialTrajectory).filter { Int($0.info["step"] ?? "") ?? .max <= restart.step }
                keptLines = try String(contentsOfFile: partialLog, encoding: .utf8).split(separator: "\n").map(String.init).prefix(keptFrames.count).map { $0 }
                log("resumed from \(restartPath) at step \(restart.step)")
            }
            trajectory = try AppendingFile(path: partialTrajectory, startingWith: ExtendedXYZ.format(keptFrames))
            thermo = try AppendingFile(path: partialLog, startingWith: keptLines.map { $0 + "\n" }.joined())
        }
        func record(_ step: Int, _ whole: AtomicSystem, _ forces: [SIMD3<Double>]) throws {
            let (epot, ekin) = (engine.potentialEnergy, whole.kineticEnergy)
            guard primary else { return }
            let fields: [String: Any] = ["step": step, "time_fs": Double(step) * s.timestepFS, "Epot": epot, "Ekin": ekin, "T": whole.temperature, "Etot": epot + ekin]
            try thermo?.append(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self) + "\n")
            var frame = AtomicFrame(system: whole, energy: epot, forces: forces)
            frame.info["step"] = "\(step)"
            try trajectory?.append(ExtendedXYZ.format([frame]))
            log(String(format: "step %d/%d  Epot %.5f eV  Ekin %.5f eV  T %.1f K  Etot %.6f eV", step, s.steps, epot, ekin, whole.temperature, epot + ekin))
        }
        if first == 1 {
            let (whole, forces) = try engine.gathered(template: system)
            try record(0, whole, forces)
        }
        let last = Swift.min(s.steps, s.stopAtStep ?? s.steps)
        let clock = ContinuousClock(), started = clock.now
        if first <= last {
            for step in first...last {
                try engine.step()
                try FaultInjection.check(step: step, rank: world.rank)
                let writes = step % s.writeEvery == 0 || step == s.steps, restarts = step % s.restartEvery == 0 || step == last
                guard writes || restarts else { continue }
                let (whole, forces) = try engine.gathered(template: system)
                if writes { try record(step, whole, forces) }
                if restarts, primary {
                    // The outputs reach the disk before the restart file that vouches for them.
                    try trajectory?.synchronize()
                    try thermo?.synchronize()
                    try MDRestart(step: step, positions: whole.positions, momenta: whole.momenta, state: [], neighbourReference: [],
                                  initialEnergy: initial, temperatureSum: 0).write(to: restartPath, recipe: s.json)
                }
            }
        }
        let steps = Swift.max(0, last - first + 1)
        let seconds = (clock.now - started).inSeconds / Double(Swift.max(steps, 1))
        if last < s.steps {
            try trajectory?.synchronize()
            try thermo?.synchronize()
            log("stopped at step \(last) as asked; continue with --resume (on \(world.size) ranks)")
            return Summary(steps: last, secondsPerStep: seconds, energyDrift: .nan, ghostsPerRank: engine.ghostCount)
        }
        let drift = engine.potentialEnergy + (try engine.kineticEnergy()) - initial
        try trajectory?.finish(as: trajectoryPath)
        try thermo?.finish(as: logPath)
        return Summary(steps: s.steps, secondsPerStep: seconds, energyDrift: drift, ghostsPerRank: engine.ghostCount)
    }
}
