"""Tests for the figures: every kind is drawn, as PNG and SVG, and listed for the report."""

from sklearn_attnkernel.analysis.report import load_results
from sklearn_attnkernel.analysis.report.figures import draw_figures


def test_every_kind_of_figure_as_png_and_svg(report_run_dir):
    figures = sorted(p.name for p in (report_run_dir / "figures").iterdir())
    stems = {name.rsplit(".", 1)[0] for name in figures}
    assert all(f"{stem}.png" in figures and f"{stem}.svg" in figures for stem in stems)
    kinds = {stem.split("_digits")[0] for stem in stems}
    assert {"ntk_distance", "flip_rates", "spectra", "kappa_rank_curve", "collapse"} <= kinds


def test_draw_figures_lists_section_path_and_caption(report_run_dir, tmp_path):
    results, _ = load_results(report_run_dir)
    made = draw_figures(results, tmp_path)
    sections = [section for section, _, _ in made]
    assert set(sections) == {"ntk", "malleability", "kappa", "collapse"}
    assert sorted(path.name for _, path, _ in made) == sorted(
        p.name for p in tmp_path.glob("*.png")
    )
    assert all(caption for _, _, caption in made)


def test_no_rows_no_figures(report_run_dir, tmp_path):
    results, _ = load_results(report_run_dir)
    assert draw_figures(results.iloc[:0], tmp_path) == []
    assert not list(tmp_path.iterdir())
