"""Plot the recorded study tables of ``docs/studies.md`` as figures.

The values are copied from the tables of that page (measured with the
commands given there); this script only draws them:

    python docs/figures/plot_studies.py

writes ``docs/figures/convergence.png`` next to itself.
"""
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

HERE = osp.dirname(osp.abspath(__file__))
EPOCHS = list(range(2, 25, 2))
# Validation mean sensitivity (0.5-4 FPs/image) of the demo detector on the
# synthetic DeepLesion, docs/studies.md, "convergence" table.
RUNS = {
    'scratch, seed 0': [0.016, 0.041, 0.107, 0.205, 0.434, 0.730, 0.783,
                        0.824, 0.803, 0.914, 0.922, 0.922],
    'scratch, seed 1': [0.016, 0.115, 0.275, 0.779, 0.779, 0.836, 0.861,
                        0.885, 0.889, 0.934, 0.934, 0.939],
    'Fashion-MNIST VDT, seed 0': [0.021, 0.090, 0.262, 0.525, 0.709, 0.820,
                                  0.828, 0.869, 0.861, 0.893, 0.906, 0.906],
    'Fashion-MNIST VDT + stem, seed 0': [0.029, 0.103, 0.271, 0.398, 0.676,
                                         0.725, 0.844, 0.898, 0.881, 0.914,
                                         0.902, 0.910],
}


def main() -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for (name, values), style in zip(RUNS.items(), ('-', '--', '-', '--')):
        colour = 'tab:grey' if name.startswith('scratch') else 'tab:blue'
        if 'stem' in name:
            colour = 'tab:orange'
        ax.plot(EPOCHS, values, style, marker='o', ms=3, color=colour,
                label=name)
    ax.set_xlabel('epoch (55 iterations each)')
    ax.set_ylabel('val mean sensitivity (0.5-4 FPs)')
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    ax.set_title('Demo detector on synthetic DeepLesion: pre-trained vs '
                 'scratch', fontsize=9)
    fig.tight_layout()
    fig.savefig(osp.join(HERE, 'convergence.png'))


if __name__ == '__main__':
    main()
