#!/usr/bin/env python3
"""The schnetpack twin of `scizoo mlff-train` and `scizoo bench mlff`: the same recipe, split and
hyperparameters run through schnetpack 2.1.1 (PyPI) with torch on the CPU, so that accuracy and
speed are measured against upstream on the same machine.

    pip install schnetpack            # brings torch and pytorch-lightning
    scizoo mlff-train --config Recipes/mlff/smoke.yaml --run-dir runs/mlff      # writes runs/mlff/split.json
    python3 Scripts/mlff/schnetpack_twin.py train --config Recipes/mlff/smoke.yaml --split runs/mlff/split.json
    python3 Scripts/mlff/schnetpack_twin.py bench --model schnet --atoms 1000
    python3 Scripts/mlff/schnetpack_twin.py train-speed --config Recipes/mlff/smoke.yaml --model schnet

`train` follows the recipe: SchNet or PaiNN with its sizes, AdamW at lr, ReduceLROnPlateau on the
validation loss (lr_factor, lr_patience, lr_cooldown, threshold 0), EMA (ema_decay, schnetpack's
callback), loss energy_weight·MSE(E) + forces_weight·MSE(F), the mean energy per atom removed and
added back (RemoveOffsets/AddOffsets), max_epochs, batch_size; it prints the test split's energy
MAE (per molecule) and force MAE (over components) with the best model, and training molecules/s.
`bench` times energy+forces calls of a freshly initialised model on a periodic argon-density box
of N atoms (the same structure `scizoo bench mlff` builds) and prints calls/s and atom-steps/s;
`train-speed` times AdamW steps of the energy+force loss on batches of the recipe's frames.
Threads: torch.set_num_threads(--threads, default 2).
"""
import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np
import schnetpack as spk
import schnetpack.transform as trn
import torch
import yaml
from ase import Atoms
from ase.io import read


def build_model(kind, cutoff, n_atom_basis, n_interactions, n_rbf, mean_per_atom=None):
    radial = spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=cutoff)
    cut = spk.nn.CosineCutoff(cutoff)
    cls = spk.representation.SchNet if kind == "schnet" else spk.representation.PaiNN
    representation = cls(n_atom_basis=n_atom_basis, n_interactions=n_interactions, radial_basis=radial, cutoff_fn=cut)
    post = [trn.CastTo64(), trn.AddOffsets("energy", add_mean=True)] if mean_per_atom is not None else []
    return spk.model.NeuralNetworkPotential(
        representation=representation,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=n_atom_basis, output_key="energy"),
                        spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        postprocessors=post,
    )


def train(args):
    recipe = yaml.safe_load(open(args.config))
    base = os.path.dirname(os.path.abspath(args.config))
    data, model, task, trainer = recipe["data"], recipe.get("model", {}), recipe.get("task", {}), recipe.get("trainer", {})
    split = json.load(open(args.split))
    frames = read(os.path.join(base, data["path"]), index=":")
    workdir = tempfile.mkdtemp(prefix="spk-twin-")
    dataset = spk.data.ASEAtomsData.create(os.path.join(workdir, "frames.db"), distance_unit="Ang",
                                           property_unit_dict={"energy": "eV", "forces": "eV/Ang"})
    dataset.add_systems([{"energy": np.array([a.get_potential_energy()]), "forces": a.get_forces()} for a in frames],
                        [Atoms(a.numbers, a.positions) for a in frames])
    np.savez(os.path.join(workdir, "split.npz"), train_idx=np.array(split["train"]), val_idx=np.array(split["val"]),
             test_idx=np.array(split["test"]))
    cutoff = float(model.get("cutoff", 5.0))
    module = spk.data.AtomsDataModule(
        os.path.join(workdir, "frames.db"), batch_size=int(data.get("batch_size", 10)), num_train=len(split["train"]),
        num_val=len(split["val"]), num_test=len(split["test"]), split_file=os.path.join(workdir, "split.npz"),
        transforms=[trn.ASENeighborList(cutoff=cutoff), trn.RemoveOffsets("energy", remove_mean=True), trn.CastTo32()],
        num_workers=0, pin_memory=False)
    module.prepare_data()
    module.setup()
    net = build_model(model.get("model", "schnet"), cutoff, int(model.get("n_atom_basis", 128)), int(model.get("n_interactions", 3)),
                      int(model.get("n_rbf", 20)), mean_per_atom=True)
    outputs = [spk.task.ModelOutput("energy", loss_fn=torch.nn.MSELoss(), loss_weight=float(task.get("energy_weight", 0.01)),
                                    metrics={"mae": __import__("torchmetrics").MeanAbsoluteError()}),
               spk.task.ModelOutput("forces", loss_fn=torch.nn.MSELoss(), loss_weight=float(task.get("forces_weight", 0.99)),
                                    metrics={"mae": __import__("torchmetrics").MeanAbsoluteError()})]
    atomistic = spk.task.AtomisticTask(
        model=net, outputs=outputs, optimizer_cls=torch.optim.AdamW,
        optimizer_args={"lr": float(task.get("lr", 1e-3)), "weight_decay": float(task.get("weight_decay", 0.0))},
        scheduler_cls=spk.train.ReduceLROnPlateau,
        scheduler_args={"mode": "min", "factor": float(task.get("lr_factor", 0.5)), "patience": int(task.get("lr_patience", 75)),
                        "threshold": 0.0, "cooldown": int(task.get("lr_cooldown", 10)), "min_lr": float(task.get("min_lr", 0.0))},
        scheduler_monitor="val_loss")
    import pytorch_lightning as pl
    callbacks = [spk.train.ModelCheckpoint(model_path=os.path.join(workdir, "best_model"), save_top_k=1, monitor="val_loss")]
    if float(task.get("ema_decay", 0.995)) > 0:
        callbacks.append(spk.train.ExponentialMovingAverage(decay=float(task.get("ema_decay", 0.995))))
    epochs = int(trainer.get("max_epochs", 100))
    pl_trainer = pl.Trainer(max_epochs=epochs, callbacks=callbacks, logger=False, enable_progress_bar=False,
                            enable_model_summary=False, default_root_dir=workdir, accelerator="cpu", devices=1)
    started = time.time()
    pl_trainer.fit(atomistic, datamodule=module)
    seconds = time.time() - started
    best = torch.load(os.path.join(workdir, "best_model"), weights_only=False)
    best.eval()
    errors_e, errors_f = [], []
    for batch in module.test_dataloader():
        reference_e, reference_f = batch["energy"].clone(), batch["forces"].clone()
        result = best(batch)
        n = batch[spk.properties.n_atoms].double()
        mean = module.get_stats("energy", divide_by_atoms=True, remove_atomref=False)[0].double()
        errors_e.append((result["energy"].detach().double() - (reference_e.double() + mean * n)).abs())
        errors_f.append((result["forces"].detach().double() - reference_f.double()).abs().flatten())
    e_mae, f_mae = torch.cat(errors_e).mean().item(), torch.cat(errors_f).mean().item()
    print(json.dumps({"schnetpack": "2.1.1", "torch": torch.__version__, "threads": torch.get_num_threads(), "epochs": epochs,
                      "train_molecules_per_second": epochs * len(split["train"]) / seconds, "seconds": seconds,
                      "test/energy_mae": e_mae, "test/forces_mae": f_mae}))
    shutil.rmtree(workdir, ignore_errors=True)


def argon_box(n_atoms, seed=0):
    """Argon at liquid density (0.0213 atoms/Å³) on a jittered simple-cubic grid in a periodic cube."""
    side = int(np.ceil(n_atoms ** (1 / 3)))
    edge = (n_atoms / 0.0213) ** (1 / 3)
    grid = np.array([(i, j, k) for i in range(side) for j in range(side) for k in range(side)][:n_atoms], dtype=float)
    rng = np.random.default_rng(seed)
    positions = (grid + 0.5) * edge / side + rng.normal(scale=0.05, size=grid.shape)
    return Atoms([18] * n_atoms, positions, cell=np.eye(3) * edge, pbc=True)


def bench(args):
    torch.manual_seed(0)
    net = build_model(args.model, args.cutoff, args.features, args.interactions, args.rbf)
    converter = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=args.cutoff), dtype=torch.float32)
    atoms = argon_box(args.atoms)
    inputs = converter(atoms)
    net(dict(inputs))  # warm-up
    calls, started = 0, time.time()
    while calls < args.min_calls or time.time() - started < args.seconds:
        net(dict(inputs))
        calls += 1
    seconds = time.time() - started
    print(json.dumps({"model": args.model, "atoms": args.atoms, "pairs": int(inputs[spk.properties.idx_i].shape[0]),
                      "calls_per_second": calls / seconds, "atom_steps_per_second": calls * args.atoms / seconds,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


def train_speed(args):
    """Training molecules/s: AdamW steps of energy+force loss on batches of the recipe's frames."""
    recipe = yaml.safe_load(open(args.config))
    base = os.path.dirname(os.path.abspath(args.config))
    data, model, task = recipe["data"], recipe.get("model", {}), recipe.get("task", {})
    cutoff = float(model.get("cutoff", 5.0))
    batch_size = int(data.get("batch_size", 10))
    frames = read(os.path.join(base, data["path"]), index=f":{batch_size * args.steps}")
    torch.manual_seed(0)
    net = build_model(args.model, cutoff, int(model.get("n_atom_basis", 128)), int(model.get("n_interactions", 3)), int(model.get("n_rbf", 20)))
    net.train()
    converter = spk.interfaces.AtomsConverter(neighbor_list=spk.transform.ASENeighborList(cutoff=cutoff), dtype=torch.float32)
    optimizer = torch.optim.AdamW(net.parameters(), lr=float(task.get("lr", 1e-3)))
    batches = []
    for k in range(args.steps):
        chunk = frames[k * batch_size:(k + 1) * batch_size]
        inputs = converter([type(a)(a.numbers, a.positions) for a in chunk])
        batches.append((inputs, torch.tensor([a.get_potential_energy() for a in chunk], dtype=torch.float32),
                        torch.tensor(np.concatenate([a.get_forces() for a in chunk]), dtype=torch.float32)))
    mean = float(np.mean([a.get_potential_energy() / len(a) for a in frames]))
    w_e, w_f = float(task.get("energy_weight", 0.01)), float(task.get("forces_weight", 0.99))

    def step(inputs, energy, forces):
        optimizer.zero_grad()
        result = net(dict(inputs))
        n = inputs[spk.properties.n_atoms].float()
        loss = w_e * torch.mean((result["energy"] + mean * n - energy) ** 2) + w_f * torch.mean((result["forces"] - forces) ** 2)
        loss.backward()
        optimizer.step()

    step(*batches[0])  # warm-up
    started = time.time()
    for batch in batches:
        step(*batch)
    seconds = time.time() - started
    print(json.dumps({"model": args.model, "steps": args.steps, "batch_size": batch_size,
                      "train_molecules_per_second": args.steps * batch_size / seconds, "threads": torch.get_num_threads()}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--config", required=True)
    t.add_argument("--split", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--model", default="schnet", choices=["schnet", "painn"])
    b.add_argument("--atoms", type=int, default=1000)
    b.add_argument("--cutoff", type=float, default=5.0)
    b.add_argument("--features", type=int, default=128)
    b.add_argument("--interactions", type=int, default=3)
    b.add_argument("--rbf", type=int, default=20)
    b.add_argument("--seconds", type=float, default=3.0)
    b.add_argument("--min-calls", type=int, default=3)
    s = sub.add_parser("train-speed")
    s.add_argument("--config", required=True)
    s.add_argument("--model", default="schnet", choices=["schnet", "painn"])
    s.add_argument("--steps", type=int, default=100)
    for p in (t, b, s):
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"train": train, "bench": bench, "train-speed": train_speed}[args.command](args)


if __name__ == "__main__":
    main()
