"""Report module line counts and function code lengths of a source tree.

A function's length is its number of lines of code: the lines from its
``def`` to the end of its last statement, minus the lines of its docstring
(blank and comment lines inside the body count, as they do in any editor's
view of the function). Nested functions and methods are reported on their
own and also counted inside their parent (they are part of its body).

Example:
    python tools/misc/code_size.py cspr_det --max-module-lines 450 \
        --max-function-lines 100

prints the longest modules and functions and exits with 1 when a limit is
exceeded (0 otherwise), so CI can run it as a check.
"""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Iterator, List, NamedTuple, Optional, Sequence, Set


class FunctionSize(NamedTuple):
    """Size of one function: ``path``, ``line`` of its ``def``,
    ``name`` (qualified, e.g. ``Phantom.render``) and ``code_lines``."""
    path: str
    line: int
    name: str
    code_lines: int


def _docstring_lines(node: ast.AST) -> Set[int]:
    """Line numbers (1-based) taken by the docstring of ``node``, if any."""
    body = getattr(node, 'body', None)
    if not body or not isinstance(body[0], ast.Expr):
        return set()
    value = body[0].value
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return set()
    return set(range(body[0].lineno, body[0].end_lineno + 1))


def _code_lines(first: int, last: int, skip: Set[int]) -> int:
    """Count the lines in ``[first, last]`` (1-based) not in ``skip``."""
    return sum(1 for number in range(first, last + 1) if number not in skip)


def function_sizes(path: str) -> List[FunctionSize]:
    """Code lines of every function and method defined in a Python file.

    Args:
        path (str): A ``.py`` file.

    Returns:
        list[FunctionSize]: One entry per ``def`` / ``async def``, in source
        order. Decorator lines are not counted; the ``def`` line is.
    """
    with open(path, encoding='utf-8') as f:
        source = f.read()
    tree = ast.parse(source, filename=path)
    out: List[FunctionSize] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append(
                    FunctionSize(
                        path, child.lineno, name,
                        _code_lines(child.lineno, child.end_lineno,
                                    _docstring_lines(child))))
                visit(child, name + '.')
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + '.')
            else:
                visit(child, prefix)

    visit(tree, '')
    return out


def iter_python_files(roots: Sequence[str]) -> Iterator[str]:
    """Every ``.py`` file under the given files or folders, sorted."""
    for root in roots:
        if osp.isfile(root):
            yield root
            continue
        if not osp.isdir(root):
            raise FileNotFoundError(f'no such file or folder: {root}')
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d for d in dirnames
                if not d.startswith('.') and d != '__pycache__')
            for name in sorted(filenames):
                if name.endswith('.py'):
                    yield osp.join(dirpath, name)


def count_lines(path: str) -> int:
    """Number of lines of a text file (as ``wc -l`` counts a final line
    without a newline: it counts too)."""
    with open(path, encoding='utf-8') as f:
        return sum(1 for _ in f)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Module line counts and function code lengths')
    parser.add_argument(
        'paths', nargs='+', help='files or folders to scan (e.g. cspr_det)')
    parser.add_argument(
        '--max-module-lines',
        type=int,
        default=None,
        help='fail when a module has more lines than this')
    parser.add_argument(
        '--max-function-lines',
        type=int,
        default=None,
        help='fail when a function has more code lines than this')
    parser.add_argument(
        '--top', type=int, default=10, help='how many of each to list')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        files = list(iter_python_files(args.paths))
    except FileNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    modules = sorted(((count_lines(p), p) for p in files), reverse=True)
    functions = sorted((s for p in files for s in function_sizes(p)),
                       key=lambda s: (-s.code_lines, s.path, s.line))
    print(f'{len(files)} modules, {len(functions)} functions')
    print('longest modules (lines):')
    for n, p in modules[:args.top]:
        print(f'  {n:5d}  {p}')
    print('longest functions (code lines, docstring excluded):')
    for s in functions[:args.top]:
        print(f'  {s.code_lines:5d}  {s.path}:{s.line}  {s.name}')
    failed = False
    if args.max_module_lines is not None:
        for n, p in modules:
            if n > args.max_module_lines:
                failed = True
                print(f'too long: {p} has {n} lines '
                      f'(limit {args.max_module_lines})')
    if args.max_function_lines is not None:
        for s in functions:
            if s.code_lines > args.max_function_lines:
                failed = True
                print(f'too long: {s.path}:{s.line} {s.name} has '
                      f'{s.code_lines} code lines '
                      f'(limit {args.max_function_lines})')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
