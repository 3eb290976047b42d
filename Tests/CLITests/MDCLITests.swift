// `scizoo md` as a user runs it: the smoke recipe conserves energy and writes a trajectory and a
// log that read back; bad recipes fail with one line naming the key.
import Foundation
import Testing
import TestSupport

@Suite("scizoo md")
struct MDCLITests {
    @Test("the smoke recipe: 200 NVE steps of argon, energy conserved, trajectory and thermo log written; bad recipes named")
    func smoke() throws {
        let output = try Fixtures.scratchDirectory().appendingPathComponent("md").path
        let recipe = Fixtures.packageRoot.appendingPathComponent("Recipes/md/smoke.yaml").path
        let result = try CLI.run(["md", "--config", recipe, "--output", output, "--threads", "1"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = try String(contentsOfFile: output + "/thermo.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 11)
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Double] }
        let totals = records.map { $0["Etot"]! }
        #expect(totals.map { abs($0 - totals[0]) }.max()! < 1e-3 * 108 * 0.01, "drift \(totals)")
        #expect(abs(records[0]["T"]! - 80) < 20 && records.last!["step"] == 200)
        let trajectory = try String(contentsOfFile: output + "/trajectory.extxyz", encoding: .utf8)
        #expect(trajectory.components(separatedBy: "Properties=species:S:1:pos:R:3:momenta:R:3:forces:R:3").count - 1 == 11)

        // H5MD as h5py (and so MDAnalysis' reader) sees it.
        let check = try Subprocess.python("""
            import sys, h5py, numpy as np
            f = h5py.File(sys.argv[1], 'r')
            p = f['particles/all/position']
            e = f['observables/total_energy/value'][:]
            print([int(v) for v in f['h5md'].attrs['version']], p['value'].shape, [int(v) for v in p['step'][:3]], float(p['time'][1]),
                  [b.decode() if isinstance(b, bytes) else b for b in f['particles/all/box'].attrs['boundary']],
                  int(f['particles/all/species'][0]), f['particles/all/box/edges/value'].shape, bool(np.ptp(e) < 0.01))
            """, arguments: [output + "/trajectory.h5md"])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines)
                == "[1, 1] (11, 108, 3) [0, 20, 40] 100.0 ['periodic', 'periodic', 'periodic'] 18 (11, 3, 3) True", "\(check)")

        let bad = try Fixtures.scratchDirectory().appendingPathComponent("bad.yaml").path
        try (try String(contentsOfFile: recipe, encoding: .utf8)).replacingOccurrences(of: "integrator: verlet", with: "integrator: nose-hover")
            .replacingOccurrences(of: "structure: argon_fcc_108.extxyz", with: "structure: \(Fixtures.packageRoot.path)/Recipes/md/argon_fcc_108.extxyz")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["md", "--config", bad, "--output", output])
        #expect(refused.status == 1 && refused.standardError.contains("key 'integrator'") && refused.standardError.contains("nose-hoover"), "\(refused.standardError)")
        try "structure: x.extxyz\npotential: {type: lj}\nsteps: 10\ntimestep: 1\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let typo = try CLI.run(["md", "--config", bad, "--output", output])
        #expect(typo.standardError.contains("bad.yaml:4: unknown key 'timestep'; did you mean 'timestep_fs'?"), "\(typo.standardError)")
    }
}
