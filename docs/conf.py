"""Sphinx configuration of the cspr_det documentation site.

Pages are MyST Markdown; the API reference is generated from the docstrings
(Google style): every build runs sphinx-apidoc over the package into
``docs/api/`` (ignored by git), so a new module gets its page without an edit
here. ``make docs`` builds with warnings as errors.
"""
import os
import os.path as osp
import shutil
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # document this checkout, not an installed copy
os.environ.setdefault('PYTHONUTF8', '1')

project = 'cspr_det'
copyright = 'cspr_det authors, Apache-2.0'
author = 'cspr_det authors'

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
templates_path = ['_templates']

# MyST: anchors for '#section' links in Markdown, GitHub-style slugs.
myst_heading_anchors = 4
myst_enable_extensions = ['colon_fence']

# autodoc: one page per module, generated at every build (see setup()).
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_typehints_format = 'short'
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# Attributes sections as fields: NamedTuple fields are documented by autodoc.
napoleon_use_ivar = True

html_theme = 'furo'
html_title = 'cspr_det'
html_static_path = []
suppress_warnings = []


def _write_api_pages(app) -> None:
    """Write one page per package and module of cspr_det into docs/api/.

    Package pages show the package docstring and list their modules; the
    members are documented on the module pages (packages re-export them).
    """
    from sphinx.ext import apidoc
    out = osp.join(app.srcdir, 'api')
    shutil.rmtree(out, ignore_errors=True)
    os.environ['SPHINX_APIDOC_OPTIONS'] = 'members,show-inheritance'
    apidoc.main([
        '--force', '--separate', '--module-first', '--no-toc', '-q',
        '--templatedir', osp.join(app.srcdir, '_templates', 'apidoc'),
        '-o', out, osp.join(ROOT, 'cspr_det')
    ])


def setup(app):
    app.connect('builder-inited', _write_api_pages)
