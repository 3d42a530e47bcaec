"""The project's one es/en table: every word of the pictures and rules, pinned to the course.

The expected texts are written here from the course's table "Backpropagation (resumen)"
(course 001) and the legends' meaning, not read from the table under test: swapping two
entries (a parameter labelled as a leaf input, an inverse rule under another's name) fails.
"""
from __future__ import annotations

import pytest

import autograd_core as ag
from autograd_core.vocabulary import VOCABULARY, count, text, words

COURSE = {            # the course's table, forward element → inverse, in Spanish
    "cost_seed": ("Coste J", "Unidad 1"),
    "loss": ("Función de pérdida L", "Derivada L'"),
    "activation": ("Función de activación ψ", "Derivada ψ'"),
    "weighted_input": ("Entrada ponderada w·a", "Salida ponderada doble"),
    "constant_input": ("Entrada constante b", "Salida constante"),
    "sum_of_inputs": ("Suma de entradas", "Punto de bifurcación"),
    "branch_point": ("Punto de bifurcación", "Suma de salidas"),
    "neuron": ("Neurona", "Neurona inversa"),
}

LEGEND = {            # node kinds of the pictures: (English, Spanish)
    "parameter": ("parameter (requires grad)", "parámetro (requiere gradiente)"),
    "input": ("input (leaf)", "entrada (hoja)"),
    "constant": ("constant", "constante"),
    "output": ("output", "salida"),
    "intermediate": ("intermediate", "intermedio"),
    "operation": ("operation", "operación"),
    "leaf_grad": ("gradient of a leaf", "gradiente de una hoja"),
    "module": ("module (nn)", "módulo (nn)"),
    "unit": ("Unit 1", "Unidad 1"),
    "layer": ("Layer", "Capa"),
}


@pytest.mark.parametrize("rule", sorted(COURSE))
def test_the_courses_table_in_spanish(rule):
    forward, inverse = COURSE[rule]
    assert text(f"rule.{rule}", "es") == forward
    assert text(f"inverse.{rule}", "es") == inverse


@pytest.mark.parametrize("kind", sorted(LEGEND))
def test_every_node_kind_in_both_languages(kind):
    en, es = LEGEND[kind]
    assert (text(kind, "en"), text(kind, "es")) == (en, es)


def test_inverse_rule_labels_read_the_table():
    for rule in ag.InverseRule:
        assert rule.label("es") == (text(f"rule.{rule.value}", "es"),
                                    text(f"inverse.{rule.value}", "es"))
    assert ag.InverseRule.SUM_OF_INPUTS.label("en") == ("Sum of inputs", "Branch point")


def test_every_entry_has_both_languages_and_spanish_differs_where_english_is_english():
    for key, (en, es) in VOCABULARY.items():
        assert en and es, key
    assert words("es")["parameter"] != words("en")["parameter"]


def test_plurals_and_unknown_language():
    assert count(1, "op", "en") == "1 op" and count(2, "op", "en") == "2 ops"
    assert count(2, "op") == "2 ops"                                     # English by default
    assert count(1, "tensor", "es") == "1 tensor" and count(0, "tensor", "es") == "0 tensores"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        text("unit", "fr")
    with pytest.raises(KeyError, match="no entry"):
        text("no such word")


def test_inverse_rule_label_names_itself_and_the_languages_it_knows():
    with pytest.raises(ValueError) as caught:
        ag.InverseRule.ACTIVATION.label("fr")
    assert str(caught.value) == ("InverseRule.label: unknown language 'fr'; expected 'en' or "
                                 "'es'")
