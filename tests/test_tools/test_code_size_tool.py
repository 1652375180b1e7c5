"""tools/misc/code_size.py counts what it says, and the DeepLesion data
modules stay within the package's size limits (450 lines per module, 100
code lines per function, docstrings excluded)."""
import os.path as osp
import textwrap

from tool_loader import load_tool

ROOT = osp.join(osp.dirname(__file__), '..', '..')
DATA_MODULES = [
    'cspr_det/datasets/clip_box.py',
    'cspr_det/datasets/deeplesion_coco.py',
    'cspr_det/datasets/deeplesion_csv.py',
    'cspr_det/datasets/deeplesion_dataset.py',
    'cspr_det/datasets/deeplesion_image_check.py',
    'cspr_det/datasets/synthetic/lesion_placement.py',
    'cspr_det/datasets/synthetic/make_synthetic_deeplesion.py',
    'cspr_det/datasets/synthetic/phantom.py',
    'cspr_det/datasets/synthetic/presets.py',
    'cspr_det/datasets/synthetic/render.py',
    'cspr_det/datasets/synthetic/series_plan.py',
    'cspr_det/datasets/synthetic/writers.py',
]


def test_function_lengths_exclude_the_docstring_only(tmp_path):
    mod = load_tool('tools/misc/code_size.py')
    src = tmp_path / 'm.py'
    src.write_text(
        textwrap.dedent('''\
        import os


        @staticmethod
        def f(a):
            """Doc
            string."""
            # a comment
            x = a

            def inner():
                return 1
            return x + inner()


        class A:
            def g(self):
                \'\'\'One line.\'\'\'
                return 2
        '''))
    sizes = {s.name: s.code_lines for s in mod.function_sizes(str(src))}
    # f: def, comment, x =, blank, def inner, return 1, return = 7 lines
    assert sizes == {'f': 7, 'f.inner': 2, 'A.g': 2}
    assert mod.count_lines(str(src)) == 19


def test_limits_and_exit_code(tmp_path, capsys):
    mod = load_tool('tools/misc/code_size.py')
    src = tmp_path / 'long.py'
    src.write_text('def f():\n' + '    x = 1\n' * 5 + '    return x\n')
    assert mod.main([str(src), '--max-function-lines', '7']) == 0
    assert mod.main([str(src), '--max-function-lines', '6']) == 1
    assert 'long.py:1 f has 7 code lines (limit 6)' in capsys.readouterr().out
    assert mod.main([str(src), '--max-module-lines', '6']) == 1
    assert mod.main([str(tmp_path / 'nope')]) == 2


def test_deeplesion_data_modules_within_limits(capsys):
    mod = load_tool('tools/misc/code_size.py')
    paths = [osp.join(ROOT, p) for p in DATA_MODULES]
    rc = mod.main(paths +
                  ['--max-module-lines', '450', '--max-function-lines', '100'])
    assert rc == 0, capsys.readouterr().out
