"""``scalescope data list | verify | show NAME``: the registered public datasets, their checksums, a quick look."""

from __future__ import annotations

import click
import pandas as pd

from scalescope.cli._common import Group, echo_json, fail, quiet_option


@click.group("data", cls=Group)
def data() -> None:
    """Public datasets: list them, verify local copies against the pinned sha256, show one.

    Files resolve from $SCALESCOPE_DATA_DIR/<folder>/<file> (checked against the registry), then the cache
    ($SCALESCOPE_CACHE_DIR), then a download from the pinned upstream commit.

    \b
    Example:
      SCALESCOPE_DATA_DIR=../shared/data scalescope data list
      scalescope data verify obsscaling
      scalescope data show obsscaling-base
    """


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON records.")
def list_cmd(as_json: bool) -> None:
    """List every loadable dataset with its files, licence and pinned upstream commit.

    \b
    Example:
      scalescope data list
      scalescope data list --json
    """
    from scalescope.data import list_datasets

    df = list_datasets()
    if as_json:
        echo_json(df)
        return
    view = df[["name", "n_files", "license", "upstream", "commit"]].copy()
    view["commit"] = view["commit"].str[:10]
    click.echo(view.to_string(index=False))


def verify_table(names: tuple[str, ...] = (), *, progress: bool = False) -> pd.DataFrame:
    """Per dataset/folder: files, ok, missing, mismatched, where found (and the first mismatched key)."""
    from tqdm.auto import tqdm

    from scalescope.data import DATASETS
    from scalescope.data import registry as reg
    from scalescope.data.validate import unknown_name

    groups: dict[str, list[reg.Entry]] = {}
    if not names:
        for key, e in sorted(reg.registry().items()):
            groups.setdefault(key.split("/", 1)[0], []).append(e)
    for n in names:
        if n in DATASETS:
            groups[n] = DATASETS[n].entries()
        elif reg.entries(n):
            groups[n] = reg.entries(n)
        else:
            folders = sorted({k.split("/", 1)[0] for k in reg.registry()})
            raise unknown_name(n, dict.fromkeys([*DATASETS, *folders]), what="dataset or folder")
    rows = []
    total = sum(len(v) for v in groups.values())
    bar = tqdm(total=total, desc="sha256", unit="file", disable=not progress, leave=False)
    for name, ents in groups.items():
        counts = {"ok": 0, "missing": 0, "mismatch": 0}
        where: set[str] = set()
        first_bad = ""
        for e in ents:
            status, w, p = reg.check_entry(e)
            counts[status] += 1
            if w:
                where.add(str(p)[: -len(e.key)].rstrip("/") if p is not None else w)
            if status == "mismatch" and not first_bad:
                first_bad = str(p)
            bar.update(1)
        rows.append(
            {
                "dataset": name,
                "files": len(ents),
                "ok": counts["ok"],
                "missing": counts["missing"],
                "mismatched": counts["mismatch"],
                "where": ", ".join(sorted(where)) or "-",
                "first_mismatch": first_bad,
            }
        )
    bar.close()
    return pd.DataFrame(rows)


@data.command("verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON records.")
@quiet_option
def verify_cmd(names: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Check the sha256 of every registered file that resolves locally (no downloads).

    NAMES are dataset names (obsscaling-base) or folders (obsscaling, pythia-evals); default: every folder.
    Exit 0 if every present file matches the registry (missing files are only counted), 2 if any differs.

    \b
    Example:
      SCALESCOPE_DATA_DIR=../shared/data scalescope data verify
      scalescope data verify pythia-evals --json
    """
    df = verify_table(names, progress=not (quiet or as_json))
    if as_json:
        echo_json(df)
    else:
        click.echo(df.drop(columns="first_mismatch").to_string(index=False))
    bad = int(df["mismatched"].sum())
    if bad:
        first = df.loc[df["mismatched"] > 0, "first_mismatch"].iloc[0]
        fail(f"{bad} file(s) do not match the registry sha256 (first: {first})")


@data.command("show")
@click.argument("name")
@click.option(
    "--rows", default=5, show_default=True, type=click.IntRange(0, 1000), help="How many rows to print."
)
@click.option("--no-download", is_flag=True, help="Fail instead of downloading files that are not local.")
def show_cmd(name: str, rows: int, no_download: bool) -> None:
    """Shape, columns (dtype, non-null count), provenance and the first rows of dataset NAME.

    \b
    Example:
      scalescope data show obsscaling-base
      scalescope data show pythia-evals --rows 10
    """
    from scalescope.data import get_spec, load

    spec = get_spec(name)
    df = load(name, download=not no_download)
    mod = spec.module
    click.echo(f"{spec.name}: {spec.title}")
    click.echo(f"shape: {df.shape[0]} rows x {df.shape[1]} columns")
    click.echo(f"source: {mod.SOURCE}")
    click.echo(f"license: {spec.license}")
    click.echo(f"upstream: {spec.upstream} @ {spec.commit}")
    click.echo(f"note: {mod.NOTE}")
    click.echo("")
    cols = pd.DataFrame(
        {
            "column": [str(c) for c in df.columns],
            "dtype": [str(t) for t in df.dtypes],
            "non_null": df.notna().sum().to_numpy(),
        }
    )
    with pd.option_context("display.max_rows", 400, "display.max_colwidth", 70, "display.width", 120):
        click.echo(cols.to_string(index=False))
        if rows:
            click.echo("")
            # Wide tables (olmo-ladder has 121 columns) would wrap into noise: show the first few columns only.
            max_cols = 8
            head = df.iloc[:rows, :max_cols].copy()
            if df.shape[1] > max_cols:
                click.echo(f"first {rows} rows, first {max_cols} of {df.shape[1]} columns:")
            # Long text cells (corpora) would flood the terminal; show their start.
            for c in head.columns:
                if head[c].dtype == object or pd.api.types.is_string_dtype(head[c].dtype):
                    head[c] = head[c].astype("string").str.replace("\n", "\\n").str.slice(0, 60)
            click.echo(head.to_string(index=False))
