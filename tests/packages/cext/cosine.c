/* A C extension linking libm: its wheel has a NEEDED entry the provenance must record. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

static PyObject *cosine_cos(PyObject *self, PyObject *args) {
    double x;
    if (!PyArg_ParseTuple(args, "d", &x))
        return NULL;
    return PyFloat_FromDouble(cos(x));
}

static PyMethodDef methods[] = {
    {"cos", cosine_cos, METH_VARARGS, "cosine from the system libm"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cosine", NULL, -1, methods};

PyMODINIT_FUNC PyInit_cosine(void) { return PyModule_Create(&module); }
