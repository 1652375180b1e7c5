"""The base class of the errors that mean "the input is wrong"."""


class UserInputError(Exception):
    """Bad input from the user: a file, a checkpoint, a config value or an
    argument, named in the message.

    The command-line tools show the message of such an error as one line
    (no traceback) and exit non-zero. Raise it (or a subclass) only for
    input the user can fix; a programming error must stay a plain
    exception so that its traceback is shown.
    """
