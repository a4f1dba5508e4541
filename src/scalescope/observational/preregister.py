"""Pre-registered predictions: predict models that have not been evaluated yet, hash, score later (spec §2.8).

The paper's v3 pre-registered predictions for 20 models released after submission. ``predict`` fits each target's
observational law on every model that has the target, predicts the new models from their benchmark scores alone and
stamps the file with a UTC timestamp and a sha256 over its canonical content, so a later ``score`` can prove the
predictions were not edited after the actual results were known.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.observational.capability import fit_capabilities
from scalescope.observational.constants import MODEL_COL, ImputeConfig
from scalescope.observational.law import normalise_target
from scalescope.observational.regression import fit_link, link_inverse
from scalescope.results import to_jsonable


def content_hash(payload: dict) -> str:
    """sha256 of the canonical JSON of ``payload`` without its ``sha256`` field."""
    body = {k: v for k, v in payload.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(to_jsonable(body), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def predict_new(train: pd.DataFrame, new: pd.DataFrame, target: str, *, metrics, n_pcs: int = 3,
                link: str = "sigmoid", loss: str = "huber", chance: float = 0.0, ceiling: float = 1.0) -> dict:
    """Fit on ``train`` rows with a target and predict ``new`` (raw target scale and normalised)."""
    y = normalise_target(pd.to_numeric(train[target], errors="coerce"), chance, ceiling)
    tr = train.loc[~np.isnan(y)]
    y = y[~np.isnan(y)]
    if len(tr) < 3:
        raise InputError(f"--target: {target!r} has only {len(tr)} model(s) with a value; need at least 3")
    caps = fit_capabilities(tr, new, metrics, n_components=max(5, n_pcs), impute=ImputeConfig())
    fit = fit_link(caps.scores_train[:, :n_pcs], y, link=link, loss=loss)
    z = fit.linear_predictor(caps.scores_test[:, :n_pcs])
    yn = link_inverse(z, fit.floor)
    return {
        "target": target, "chance": chance, "ceiling": ceiling, "n_pcs": n_pcs, "link": link, "loss": loss,
        "n_train": int(len(tr)), "params": fit.params.tolist(),
        "predictions": [{"Model": m, "y_pred_normalised": float(a), "y_pred": float(a * (ceiling - chance) + chance)}
                        for m, a in zip(new[MODEL_COL].astype(str), yn, strict=True)],
    }


def make_payload(entries: list[dict], models_file: str) -> dict:
    payload = {"kind": "scalescope.obs.preregistration", "created_utc": _dt.datetime.now(_dt.UTC).isoformat(),
               "models_file": models_file, "targets": entries}
    payload["sha256"] = content_hash(payload)
    return payload


def _finite(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and np.isfinite(v)


def check_payload(payload, label: str = "PREDICTIONS") -> None:
    """Refuse a pre-registration file whose structure was broken by hand (one line naming the file and the field).

    Values are checked, not trusted: a hand edit must read as an error, never as a traceback or a NaN score.
    """
    if not isinstance(payload, dict) or payload.get("kind") != "scalescope.obs.preregistration":
        raise InputError(f"{label}: not a scalescope pre-registration file")
    targets = payload.get("targets")
    if not isinstance(targets, list):
        raise InputError(f"{label}: 'targets' must be a list")
    for i, e in enumerate(targets):
        where = f"{label}: targets[{i}]"
        if not isinstance(e, dict):
            raise InputError(f"{where} must be an object, got {type(e).__name__}")
        if not isinstance(e.get("target"), str):
            raise InputError(f"{where}.target must be a string, got {e.get('target')!r}")
        for k in ("chance", "ceiling"):
            if not _finite(e.get(k)):
                raise InputError(f"{where}.{k} must be a finite number, got {e.get(k)!r}")
        if e["ceiling"] == e["chance"]:
            raise InputError(f"{where}: ceiling equals chance ({e['chance']!r}); the normalised scale is undefined")
        preds = e.get("predictions")
        if not isinstance(preds, list):
            raise InputError(f"{where}.predictions must be a list")
        for j, p in enumerate(preds):
            if not isinstance(p, dict) or not isinstance(p.get("Model"), str):
                raise InputError(f"{where}.predictions[{j}] must be an object with a string 'Model'")
            for k in ("y_pred", "y_pred_normalised"):
                if not _finite(p.get(k)):
                    raise InputError(f"{where}.predictions[{j}].{k} must be a finite number, got {p.get(k)!r}")


def score(payload: dict, actual: pd.DataFrame, *, label: str = "PREDICTIONS") -> dict:
    """Score pre-registered predictions against ``actual`` (``Model`` + target columns, raw scale)."""
    check_payload(payload, label)
    ok_hash = content_hash(payload) == payload.get("sha256")
    if MODEL_COL not in actual.columns:
        raise InputError(f"--actual: column 'Model' is missing (found: {', '.join(map(str, actual.columns))})")
    act = actual.set_index(actual[MODEL_COL].astype(str))
    rows, per_target = [], {}
    for e in payload["targets"]:
        t = e["target"]
        if t not in act.columns:
            continue
        errs = []
        for p in e["predictions"]:
            if p["Model"] in act.index:
                y = pd.to_numeric(pd.Series([act.loc[p["Model"], t]]), errors="coerce").iloc[0]
                if np.isfinite(y):
                    if y > e["ceiling"] * (1 + 1e-9) + 1e-12:
                        hint = " (percent? give fractions)" if e["ceiling"] <= 1 < y <= 100 else ""
                        raise InputError(f"--actual: {p['Model']} has {t} = {y:g}, above the target's ceiling "
                                         f"{e['ceiling']:g}{hint}")
                    yn = (y - e["chance"]) / (e["ceiling"] - e["chance"])
                    errs.append(p["y_pred_normalised"] - yn)
                    rows.append({"target": t, "Model": p["Model"], "y": float(y), "y_pred": p["y_pred"],
                                 "error_normalised": p["y_pred_normalised"] - yn})
        if errs:
            per_target[t] = {"n": len(errs), "mse": float(np.mean(np.square(errs))),
                             "mae": float(np.mean(np.abs(errs)))}
    if not rows:
        raise InputError("--actual: no (model, target) pair of the predictions has an actual value")
    return {"hash_ok": ok_hash, "created_utc": payload.get("created_utc"), "targets": per_target, "rows": rows}
